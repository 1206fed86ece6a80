import Foundation

/// What a TLS server presents for one certificate profile: its leaf, the certificates sent
/// after it, and the leaf's key. Load it with `SSL_CTX_use_certificate(leaf)`,
/// `SSL_CTX_add1_chain_cert` for each of `chain` in order, and `SSL_CTX_use_PrivateKey(key)`.
/// A context at Debian's default security level (2) refuses to load two of them: `weak_key`
/// loads at level 1, `weak_signature` only at 0 (OpenSSL 3 puts SHA-1 below level 1).
public final class ServerIdentity: @unchecked Sendable {
    // @unchecked: immutable; see X509Certificate and PrivateKey.

    /// The leaf's private key.
    let key: PrivateKey
    /// The leaf: the certificate for the hosts (or, per profile, for the wrong one).
    let leaf: X509Certificate
    /// Sent after the leaf, in this order: the issuer first, up to (for `untrusted_root`) the root.
    let chain: [X509Certificate]
    /// The leaf then `chain` as PEM: exactly what the server sends (`cert.pem`).
    public let chainPEM: String
    /// The leaf's key as unencrypted PKCS#8 PEM (`key.pem`).
    public let keyPEM: String
    /// The subject CN of the leaf, then of each of `chain`: who the server says it is, and
    /// who vouches for it, in the order sent (`localhost`, `faultline intermediate CA`).
    public var presentedNames: [String] { ([leaf] + chain).map(\.commonName) }
    /// The leaf key's algorithm and size: `EC P-256`, `RSA 2048`, `RSA 1024` (weak_key).
    public var keyDescription: String { key.description }

    init(key: PrivateKey, leaf: X509Certificate, chain: [X509Certificate]) throws(CertificateError) {
        self.key = key
        self.leaf = leaf
        self.chain = chain
        var pem = try leaf.pemText()
        for certificate in chain { pem += try certificate.pemText() }
        chainPEM = pem
        keyPEM = try key.pemText()
    }
}

extension CertificateAuthority {
    /// The name a `wrong_host` leaf is for: one no client connecting by `hosts` asks for.
    static func wrongName(avoiding hosts: [String]) -> String {
        let taken = hosts.map { $0.lowercased() }
        // A name matches itself, and `*.example` matches one label more (RFC 6125).
        func matched(_ name: String) -> Bool {
            taken.contains { host in
                host == name || host.hasPrefix("*.") && name.hasSuffix(host.dropFirst())
                    && !name.dropLast(host.count - 1).contains(".")
            }
        }
        // Each host blocks one name (itself, or one label under a wildcard), so among names
        // of growing depth one is free.
        var name = "wrong-host.invalid"
        while matched(name) { name = "a." + name }
        return name
    }

    /// A fresh leaf and chain with `tls.profile`'s defect, made in memory (nothing is written):
    ///
    /// - `valid`: leaf for `tls.hosts`, valid from an hour ago for 90 days, key per `tls.key`,
    ///   signed by the intermediate; chain: the intermediate.
    /// - `incomplete_chain`: the same leaf sent alone.
    /// - `expired`: valid from 60 to 30 days ago. `not_yet_valid`: from in 30 to in 120 days.
    /// - `wrong_host`: for `wrong-host.invalid` only (CN and subjectAltName), or another name
    ///   under `.invalid` when that one is among `tls.hosts` (the leaf must match none of them).
    /// - `self_signed`: the leaf signs itself; nothing else is sent.
    /// - `untrusted_root`: signed by a throwaway intermediate whose root ("faultline untrusted
    ///   root CA") is made here and never cached; chain: that intermediate, then that root.
    /// - `weak_signature`: signed with SHA-1. `weak_key`: an RSA-1024 key whatever `tls.key` says.
    ///
    /// Throws when `tls.hosts` is empty or holds what cannot be a certificate's name.
    public func identity(for tls: ServerTLS) throws(CertificateError) -> ServerIdentity {
        let profile = tls.profile
        try CertificateHosts.check(tls.hosts)
        let names = profile == .wrongHost ? [Self.wrongName(avoiding: tls.hosts)] : tls.hosts
        let hosts = try CertificateHosts.entries(names)
        // check() refuses an empty list, so there is a first name.
        let commonName = names.first ?? ""
        let now = Date()
        let day: TimeInterval = 86400
        var builder = CertificateBuilder(commonName: commonName, role: .leaf(hosts: hosts),
                                         notBefore: now.addingTimeInterval(-3600), notAfter: now.addingTimeInterval(90 * day))
        switch profile {
        case .expired:
            (builder.notBefore, builder.notAfter) = (now.addingTimeInterval(-60 * day), now.addingTimeInterval(-30 * day))
        case .notYetValid:
            (builder.notBefore, builder.notAfter) = (now.addingTimeInterval(30 * day), now.addingTimeInterval(120 * day))
        case .weakSignature:
            builder.digest = .sha1
        case .valid, .incompleteChain, .wrongHost, .selfSigned, .untrustedRoot, .weakKey:
            break
        }
        let algorithm: PrivateKey.Algorithm = profile == .weakKey ? .rsa(bits: 1024) : tls.key == .rsa ? .rsa(bits: 2048) : .p256
        let key = try PrivateKey.generate(algorithm)
        switch profile {
        case .selfSigned:
            return try ServerIdentity(key: key, leaf: try builder.build(key: key, issuer: nil), chain: [])
        case .untrustedRoot:
            let stranger = try Hierarchy.make(rootName: "faultline untrusted root CA", intermediateName: "faultline untrusted intermediate CA")
            let leaf = try builder.build(key: key, issuer: (stranger.intermediate, stranger.intermediateKey))
            return try ServerIdentity(key: key, leaf: leaf, chain: [stranger.intermediate, stranger.root])
        case .incompleteChain:
            return try ServerIdentity(key: key, leaf: try builder.build(key: key, issuer: (intermediate, intermediateKey)), chain: [])
        case .valid, .expired, .notYetValid, .wrongHost, .weakSignature, .weakKey:
            let leaf = try builder.build(key: key, issuer: (intermediate, intermediateKey))
            return try ServerIdentity(key: key, leaf: leaf, chain: [intermediate])
        }
    }
}
