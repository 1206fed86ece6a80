import COpenSSL
import CShims
import Glibc

/// The names and addresses a leaf is for (`--host`, `tls: {hosts: …}`): each becomes a
/// subjectAltName entry, an IP address when `inet_pton` reads it as one (`127.0.0.1`, `::1`),
/// else a DNS name (`localhost`); the first is also the subject's CN.
public enum CertificateHosts {
    /// One subjectAltName entry.
    enum Entry: Equatable {
        /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order.
        case ip([UInt8])
        case dns(String)
    }

    /// Refuses what cannot be a certificate's name, before any key is made, by the rules of
    /// `TLSText.hosts` (the ones `check`, `tls:` and `--tls-host` apply): an empty list, a
    /// first name (the CN) over 64 characters, a DNS name outside letters, digits, `-`, `_`
    /// in dot-separated labels and a leading `*.`.
    public static func check(_ hosts: [String]) throws(CertificateError) {
        _ = try entries(hosts)
    }

    /// `hosts` as subjectAltName entries, in order, after `check`'s rules.
    static func entries(_ hosts: [String]) throws(CertificateError) -> [Entry] {
        do {
            return try TLSText.hosts(hosts).map(entry)
        } catch {
            throw CertificateError("checking the certificate's hosts", error.message)
        }
    }

    /// `host` (already checked) as an IP address when it is one, else as a DNS name.
    private static func entry(_ host: String) -> Entry {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return .ip(withUnsafeBytes(of: &v4) { Array($0) }) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return .ip(withUnsafeBytes(of: &v6) { Array($0) }) }
        return .dns(host)
    }

    /// Adds the subjectAltName extension listing `entries` to `certificate`.
    static func addSubjectAltName(_ entries: [Entry], to certificate: OpaquePointer) throws(CertificateError) {
        let adding = "adding the subjectAltName"
        guard let names = GENERAL_NAMES_new() else { throw .openSSL(adding) }
        defer { GENERAL_NAMES_free(names) }
        for entry in entries {
            guard let name = GENERAL_NAME_new() else { throw .openSSL(adding) }
            let bytes: [UInt8]
            let type: Int32
            switch entry {
            case let .ip(address): (bytes, type) = (address, GEN_IPADD)
            case let .dns(host): (bytes, type) = (Array(host.utf8), GEN_DNS)
            }
            // An IP entry is an OCTET STRING, a DNS one an IA5String: both are ASN1_STRINGs
            // told apart by their type, which ASN1_STRING_type_new sets.
            guard let value = ASN1_STRING_type_new(type == GEN_IPADD ? V_ASN1_OCTET_STRING : V_ASN1_IA5STRING) else {
                GENERAL_NAME_free(name)
                throw .openSSL(adding)
            }
            GENERAL_NAME_set0_value(name, type, value)  // `name` owns `value` from here: one free for both
            guard ASN1_STRING_set(value, bytes, Int32(bytes.count)) == 1, fl_sk_GENERAL_NAME_push(names, name) > 0 else {
                GENERAL_NAME_free(name)
                throw .openSSL(adding)
            }
        }
        guard X509_add1_ext_i2d(certificate, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0, UInt(X509V3_ADD_DEFAULT)) == 1 else {
            throw .openSSL(adding)
        }
    }
}
