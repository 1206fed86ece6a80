import COpenSSL
import CShims
import Glibc

/// The names and addresses a leaf is for (`--host`, `tls: {hosts: …}`): each becomes a
/// subjectAltName entry, an IP address when `inet_pton` reads it as one (`127.0.0.1`, `::1`),
/// else a DNS name (`localhost`); the first is also the subject's CN.
public enum CertificateHosts {
    /// The longest CN X.509 allows (ub-common-name): the first host is the CN.
    static let longestCommonName = 64

    /// One subjectAltName entry.
    enum Entry: Equatable {
        /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order.
        case ip([UInt8])
        case dns(String)
    }

    /// What errors about the names say was being done.
    private static let operation = "checking the certificate's hosts"

    /// Refuses what cannot be a certificate's name, before any key is made: an empty list, an
    /// empty name, a CN over 64 characters, a DNS name with characters outside letters,
    /// digits, `-`, `_`, `.` and a leading `*.` wildcard.
    public static func check(_ hosts: [String]) throws(CertificateError) {
        _ = try entries(hosts)
    }

    /// `hosts` as subjectAltName entries, in order, after `check`'s rules.
    static func entries(_ hosts: [String]) throws(CertificateError) -> [Entry] {
        guard let first = hosts.first else {
            throw CertificateError(operation, "no host given: a leaf needs at least one name, e.g. localhost")
        }
        guard first.utf8.count <= longestCommonName else {
            throw CertificateError(operation, "'\(first)' cannot come first: the first host is the subject's CN, which X.509 "
                                   + "limits to \(longestCommonName) characters; put a shorter name first")
        }
        var entries: [Entry] = []
        for host in hosts { entries.append(try entry(host)) }
        return entries
    }

    /// `host` as an IP address when it is one, else as a DNS name it must be spelt as.
    private static func entry(_ host: String) throws(CertificateError) -> Entry {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return .ip(withUnsafeBytes(of: &v4) { Array($0) }) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return .ip(withUnsafeBytes(of: &v6) { Array($0) }) }
        if host.hasPrefix("["), host.hasSuffix("]") {
            throw CertificateError(operation, "'\(host)': give an IPv6 address without brackets (\(host.dropFirst().dropLast()))")
        }
        // RFC 1035's 253, and labels of 1 to 63 characters: what resolvers and verifiers accept.
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        let wellFormed = host.utf8.count <= 253 && labels.enumerated().allSatisfy { index, label in
            (index == 0 && label == "*" && labels.count > 1) || (1...63).contains(label.count) && label.allSatisfy(allowed.contains)
        }
        guard wellFormed else {
            throw CertificateError(operation, "'\(host)' is neither an IP address nor a DNS name (letters, digits, '-' and '_' "
                                   + "in dot-separated labels of up to 63 characters, optionally '*.' first)")
        }
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
