import COpenSSL
import Foundation

/// One X.509 v3 certificate to make: its names, validity, what it may do and how it is
/// signed. Every certificate faultline presents comes from here, so roots, intermediates and
/// leaves differ only in these fields.
struct CertificateBuilder {
    /// What the certificate is for; decides basicConstraints, keyUsage and extendedKeyUsage.
    enum Role {
        /// A CA that may have `pathLength` more CAs below it.
        case authority(pathLength: Int)
        /// A TLS server certificate for `hosts` (its subjectAltName).
        case leaf(hosts: [CertificateHosts.Entry])
    }

    /// The digest the issuer signs with.
    enum Digest {
        case sha256
        /// What `weak_signature` presents: verifiers at security level 2 or more refuse it.
        case sha1
    }

    /// The subject's CN; the subject's O is always `faultline`, so a user can tell our
    /// certificates from real ones at a glance.
    var commonName: String
    var role: Role
    var notBefore: Date
    var notAfter: Date
    var digest: Digest = .sha256

    /// The certificate for `key`, signed by `issuer` (its certificate names the issuer and its
    /// key signs), or by `key` itself when `issuer` is nil: a self-signed certificate.
    func build(key: PrivateKey, issuer: (certificate: X509Certificate, key: PrivateKey)?) throws(CertificateError) -> X509Certificate {
        let operation = "making the certificate for '\(commonName)'"
        guard let pointer = X509_new() else { throw .openSSL(operation) }
        let certificate = X509Certificate(owning: pointer)
        guard X509_set_version(pointer, Int(X509_VERSION_3)) == 1,
              X509_set_pubkey(pointer, key.pointer) == 1,
              ASN1_TIME_set(X509_getm_notBefore(pointer), time_t(notBefore.timeIntervalSince1970)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(pointer), time_t(notAfter.timeIntervalSince1970)) != nil else {
            throw .openSSL(operation)
        }
        try setRandomSerial(pointer, operation)
        try setSubject(pointer, operation)
        let issuerName = X509_get_subject_name(issuer?.certificate.pointer ?? pointer)
        guard X509_set_issuer_name(pointer, issuerName) == 1 else { throw .openSSL(operation) }
        try addExtensions(to: pointer, issuer: issuer?.certificate.pointer ?? pointer, key: key, operation)
        let signer = issuer?.key ?? key
        let method = digest == .sha1 ? EVP_sha1() : EVP_sha256()
        guard X509_sign(pointer, signer.pointer, method) > 0 else { throw .openSSL("signing the certificate for '\(commonName)'") }
        return certificate
    }

    /// 16 random bytes, the top bit clear so the DER INTEGER stays positive and 16 bytes long:
    /// random serials keep two certificates from one issuer distinct, which clients require.
    private func setRandomSerial(_ certificate: OpaquePointer, _ operation: String) throws(CertificateError) {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw .openSSL(operation) }
        bytes[0] &= 0x7f
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else { throw .openSSL(operation) }
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil else { throw .openSSL(operation) }
    }

    private func setSubject(_ certificate: OpaquePointer, _ operation: String) throws(CertificateError) {
        guard let name = X509_get_subject_name(certificate) else { throw .openSSL(operation) }
        for (field, value) in [("O", "faultline"), ("CN", commonName)] {
            let bytes = Array(value.utf8)
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1 else {
                throw .openSSL("\(operation): setting its \(field)")
            }
        }
    }

    /// The extensions verifiers look at: a CA must say CA:TRUE (critical) and keyCertSign; a
    /// leaf CA:FALSE, serverAuth and its names; key identifiers let a client match each
    /// certificate to its issuer even when two issuers share a name.
    private func addExtensions(to certificate: OpaquePointer, issuer: OpaquePointer, key: PrivateKey,
                               _ operation: String) throws(CertificateError) {
        var extensions: [(Int32, String)]
        switch role {
        case let .authority(pathLength):
            extensions = [(NID_basic_constraints, "critical,CA:TRUE,pathlen:\(pathLength)"),
                          (NID_key_usage, "critical,keyCertSign,cRLSign")]
        case .leaf:
            // keyEncipherment only for RSA: TLS 1.2's RSA key exchange encrypts to the key,
            // which an EC key cannot do.
            let rsa = EVP_PKEY_get_base_id(key.pointer) == EVP_PKEY_RSA
            extensions = [(NID_basic_constraints, "critical,CA:FALSE"),
                          (NID_key_usage, rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"),
                          (NID_ext_key_usage, "serverAuth")]
        }
        // The subject's identifier first: for a self-signed certificate the authority's
        // identifier is read from it.
        extensions += [(NID_subject_key_identifier, "hash"), (NID_authority_key_identifier, "keyid:always")]
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw .openSSL("\(operation): adding \(String(cString: OBJ_nid2sn(nid)))")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(certificate, ext, -1) == 1 else { throw .openSSL("\(operation): adding \(String(cString: OBJ_nid2sn(nid)))") }
        }
        if case let .leaf(hosts) = role { try CertificateHosts.addSubjectAltName(hosts, to: certificate) }
    }
}
