import COpenSSL
import Foundation
import Glibc

/// Reads the words of `tls:`, `upstream_tls:` and the `proxy` command's TLS flags: one place
/// for what a certificate profile, a key type, a host name and a CA file may be, so a
/// scenario and a flag refuse the same value with the same reason.
public enum TLSText {
    /// A value that is not what it should be, and why; the caller adds the key or flag.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        /// `'expird' is not a certificate profile (did you mean 'expired'?); …`.
        public let message: String
        public var description: String { message }
    }

    /// The profile names, in the order docs list them.
    public static let profileNames = CertificateProfile.allCases.map(\.rawValue)

    /// The key type names.
    public static let keyNames = KeyType.allCases.map(\.rawValue)

    /// A certificate profile by name; a wrong one gets the closest name and the whole list.
    public static func profile(_ text: String) throws(Refusal) -> CertificateProfile {
        if let profile = CertificateProfile(rawValue: text) { return profile }
        let close = Suggestion.closest(to: text, in: profileNames).map { " (did you mean '\($0)'?)" } ?? ""
        throw Refusal(message: "'\(text)' is not a certificate profile\(close); expected \(Suggestion.list(profileNames))")
    }

    /// `ec` or `rsa`.
    public static func key(_ text: String) throws(Refusal) -> KeyType {
        if let key = KeyType(rawValue: text) { return key }
        throw Refusal(message: "'\(text)' is not a key type; expected \(Suggestion.list(keyNames))")
    }

    /// `weak_key` presents an RSA-1024 leaf whatever `key` says: an explicit `ec` is refused
    /// rather than silently ignored. nil when the two go together.
    public static func keyConflict(_ key: KeyType, profile: CertificateProfile) -> Refusal? {
        guard profile == .weakKey, key == .ec else { return nil }
        return Refusal(message: "'ec' does not go with profile weak_key, whose leaf has an RSA-1024 key; leave the key out")
    }

    /// A name or an IP address a certificate is for, or a server name: an IPv4 or IPv6 literal,
    /// or a DNS name of letters, digits, `-` and `_` in dot-separated labels of 1 to 63
    /// characters (253 in all), optionally `*.` first. The rules the certificate builder holds
    /// names to, checked when the file is read instead of when the run starts.
    public static func host(_ text: String) throws(Refusal) -> String {
        let example = "e.g. localhost, api.example.com or 127.0.0.1"
        guard !text.isEmpty else { throw Refusal(message: "expected a host name, \(example), found an empty text") }
        if isIPv4(text) || isIPv6(text) { return text }
        if text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            throw Refusal(message: "'\(TerminalText.escaped(text))' is not a host name: it holds a space or a control character (\(example))")
        }
        if text.hasPrefix("["), text.hasSuffix("]"), isIPv6(String(text.dropFirst().dropLast())) {
            throw Refusal(message: "'\(text)' is not a host name: write the IPv6 address without brackets (\(text.dropFirst().dropLast()))")
        }
        if let percent = text.firstIndex(of: "%"), isIPv6(String(text[..<percent])) {
            throw Refusal(message: "'\(text)' is not a host name: a certificate holds no zone index (\(text[percent...])); write \(text[..<percent])")
        }
        if text.contains(":") {
            let name = text.hasPrefix("[") ? String(text.dropFirst().prefix { $0 != "]" }) : String(text.prefix { $0 != ":" })
            throw Refusal(message: "'\(text)' is not a host name: leave the port out (\(name))")
        }
        guard text.utf8.count <= 253 else {
            throw Refusal(message: "'\(text.prefix(20))…' is not a host name: it has \(text.utf8.count) characters, a name at most 253")
        }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let wellFormed = labels.enumerated().allSatisfy { index, label in
            (index == 0 && label == "*" && labels.count > 1)
                || (1...63).contains(label.utf8.count) && label.unicodeScalars.allSatisfy(isNameCharacter)
        }
        guard wellFormed else {
            throw Refusal(message: "'\(text)' is neither an IP address nor a host name (letters, digits, '-' and '_' "
                          + "in dot-separated labels of 1 to 63 characters, optionally '*.' first)")
        }
        return text
    }

    /// The longest first host: it becomes the certificate subject's CN, which X.509 limits.
    public static let longestFirstHost = 64

    /// The names a certificate is for, each as `host(_:)` takes it, the first at most 64
    /// characters; at least one.
    public static func hosts(_ names: [String]) throws(Refusal) -> [String] {
        guard let first = names.first else { throw Refusal(message: "expected at least one name, such as localhost") }
        for name in names { _ = try host(name) }
        guard first.utf8.count <= longestFirstHost else {
            throw Refusal(message: "'\(first)' cannot come first: the first name is the certificate subject's CN, which X.509 "
                          + "limits to \(longestFirstHost) characters; put a shorter name first")
        }
        return names
    }

    /// A server name to send as SNI: a host name that is no IP address (RFC 6066 forbids one)
    /// and no wildcard.
    public static func serverName(_ text: String) throws(Refusal) -> String {
        let name = try host(text)
        if isIPv4(name) || isIPv6(name) {
            throw Refusal(message: "'\(name)' is an IP address, which SNI cannot carry: leave it out and the upstream's address is checked")
        }
        if name.hasPrefix("*.") {
            throw Refusal(message: "'\(name)' is a wildcard, but SNI names one server: give its full name")
        }
        return name
    }

    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_": true
        default: false
        }
    }

    /// `ca` as written, relative to `file`'s directory unless absolute: `./ca.pem` in
    /// `scenarios/x.yaml` is `scenarios/ca.pem`.
    public static func path(_ written: String, relativeTo file: String) -> String {
        var relative = Substring(written)
        guard !relative.hasPrefix("/") else { return written }
        while relative.hasPrefix("./") { relative = relative.dropFirst(2).drop { $0 == "/" } }
        guard let slash = file.lastIndex(of: "/") else { return String(relative) }
        return String(file[...slash]) + relative
    }

    /// The most a CA file may hold (16 MB): the system's whole bundle is a few hundred KB.
    public static let maximumCASize = 16 << 20

    /// Checks that `path` is a readable file holding at least one PEM certificate, as OpenSSL
    /// will read it when the proxy starts; the message names the path.
    public static func checkCAFile(_ path: String) throws(Refusal) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw Refusal(message: "cannot read \(path): \(String(cString: strerror(errno)))") }
        guard status.st_mode & S_IFMT == S_IFREG else {
            let what = status.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file"
            throw Refusal(message: "\(path) is \(what), not a PEM file of certificates")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Refusal(message: "cannot read \(path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let data: Data
        do {
            data = try handle.read(upToCount: maximumCASize) ?? Data()
        } catch {
            throw Refusal(message: "cannot read \(path): \(error.localizedDescription)")
        }
        let markers = ["-----BEGIN CERTIFICATE-----", "-----BEGIN TRUSTED CERTIFICATE-----"].map { Data($0.utf8) }
        guard markers.contains(where: { data.range(of: $0) != nil }) else {
            throw Refusal(message: "\(path) holds no PEM certificate (a line -----BEGIN CERTIFICATE-----)")
        }
        // Read it as the proxy will, so that a damaged certificate stops `check`, not the run.
        guard let store = X509_STORE_new() else { return }
        defer { X509_STORE_free(store) }
        guard X509_STORE_load_file(store, path) == 1 else {
            let reasons = OpenSSLErrors.drain()
            throw Refusal(message: "\(path) holds a certificate OpenSSL cannot read (\(reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")))")
        }
    }

    private static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    private static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
