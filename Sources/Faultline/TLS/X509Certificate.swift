import COpenSSL

/// An owned `X509*`: a certificate faultline built or read from its CA cache.
final class X509Certificate: @unchecked Sendable {
    // @unchecked: never mutated once built; OpenSSL 3 guards a certificate's lazily computed
    // extension cache with a lock, so reading it from several threads is safe.

    /// The `X509*`, owned: freed with this object.
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// Reads the first PEM certificate in `pem`; `what` names it in the error (a file's path).
    convenience init(pem: String, what: String) throws(CertificateError) {
        let certificate = try PEM.read(pem, "reading \(what) as a PEM certificate") { PEM_read_bio_X509($0, nil, nil, nil) }
        self.init(owning: certificate)
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`).
    func pemText() throws(CertificateError) -> String {
        try PEM.text("writing a certificate as PEM") { PEM_write_bio_X509($0, pointer) }
    }

    /// The subject's CN, or `(no CN)`.
    var commonName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = X509_NAME_get_text_by_NID(X509_get_subject_name(pointer), NID_commonName, &buffer, Int32(buffer.count))
        guard length >= 0 else { return "(no CN)" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `key` is this certificate's key pair (its public half is the certificate's).
    func matches(_ key: PrivateKey) -> Bool {
        let matches = X509_check_private_key(pointer, key.pointer) == 1
        // A mismatch leaves its reason in the queue; the caller reports its own.
        ERR_clear_error()
        return matches
    }

    /// Whether `issuer`'s key signed this certificate.
    func isSigned(by issuer: PrivateKey) -> Bool {
        let verified = X509_verify(pointer, issuer.pointer) == 1
        ERR_clear_error()
        return verified
    }
}
