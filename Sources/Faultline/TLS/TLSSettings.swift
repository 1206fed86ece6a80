/// A certificate defect a client meets at handshake (`tls: {profile: …}`). Each one is what a
/// real server with that defect presents; the comments name what a verifying client reports.
public enum CertificateProfile: String, Sendable, CaseIterable {
    /// Leaf and intermediate, signed by the run's root: verification passes.
    case valid
    /// The leaf alone, its intermediate left out: verify code 20, "unable to get local issuer certificate".
    case incompleteChain = "incomplete_chain"
    /// A leaf whose notAfter has passed: code 10, "certificate has expired".
    case expired
    /// A leaf whose notBefore is in the future: code 9, "certificate is not yet valid".
    case notYetValid = "not_yet_valid"
    /// A leaf for another name: code 62, "Hostname mismatch, certificate is not valid for 'HOST'."
    case wrongHost = "wrong_host"
    /// A leaf that signs itself: code 18, "self-signed certificate".
    case selfSigned = "self_signed"
    /// A complete chain up to a root the client does not trust, root included: code 19,
    /// "self-signed certificate in certificate chain".
    case untrustedRoot = "untrusted_root"
    /// A leaf signed with SHA-1: code 68, "CA signature digest algorithm too weak".
    case weakSignature = "weak_signature"
    /// A leaf with an RSA-1024 key: code 66, "EE certificate key too weak".
    case weakKey = "weak_key"

    /// One line: what a verifying client reports (for `faultline faults` and docs).
    public var summary: String {
        switch self {
        case .valid: "a complete chain to the trusted root: verification passes"
        case .incompleteChain: "leaf without its intermediate: \"unable to get local issuer certificate\" (verify code 20)"
        case .expired: "leaf past its notAfter: \"certificate has expired\" (10)"
        case .notYetValid: "leaf before its notBefore: \"certificate is not yet valid\" (9)"
        case .wrongHost: "leaf for another name: \"Hostname mismatch, certificate is not valid for 'HOST'.\" (62)"
        case .selfSigned: "leaf signed by itself: \"self-signed certificate\" (18)"
        case .untrustedRoot: "chain to a root the client does not trust: \"self-signed certificate in certificate chain\" (19)"
        case .weakSignature: "leaf signed with SHA-1: \"CA signature digest algorithm too weak\" (68)"
        case .weakKey: "leaf with an RSA-1024 key: \"EE certificate key too weak\" (66)"
        }
    }
}

/// The leaf's key algorithm.
public enum KeyType: String, Sendable, CaseIterable {
    /// EC P-256 (the default).
    case ec
    /// RSA 2048.
    case rsa
}

/// `tls:` on a proxy: faultline terminates TLS toward the client, presenting `profile`.
public struct ServerTLS: Sendable, Equatable {
    /// What the client meets at handshake.
    public var profile: CertificateProfile
    /// The names and addresses the leaf is for (SANs); the first is the subject's CN.
    public var hosts: [String]
    /// The leaf's key algorithm.
    public var key: KeyType

    /// `profile` for `hosts` (default `localhost`) with an EC P-256 key.
    public init(profile: CertificateProfile = .valid, hosts: [String] = ["localhost"], key: KeyType = .ec) {
        self.profile = profile
        self.hosts = hosts
        self.key = key
    }
}

/// `upstream_tls:` on a proxy: faultline speaks TLS to the upstream.
public struct UpstreamTLS: Sendable, Equatable {
    /// Check the upstream's chain and name (on by default; false with modern crypto only).
    public var verify: Bool
    /// PEM file of the roots to trust; nil: the system's store.
    public var caFile: String?
    /// Server name sent (SNI) and checked; nil: none sent, the upstream's IP address is checked.
    public var sni: String?
    /// `curl -k`: check nothing, and accept what a strict client refuses (TLS 1.0/1.1, weak
    /// keys and signatures). Implies `verify: false`; both given as true is an error.
    public var insecure: Bool

    /// Verifying against `caFile` (or the system store), name `sni`.
    public init(verify: Bool = true, caFile: String? = nil, sni: String? = nil, insecure: Bool = false) {
        self.verify = verify && !insecure
        self.caFile = caFile
        self.sni = sni
        self.insecure = insecure
    }
}
