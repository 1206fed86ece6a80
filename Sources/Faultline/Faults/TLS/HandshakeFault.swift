import COpenSSL

/// What a TLS fault does to a client's handshake. Faults are chosen per connection when it
/// is accepted (first/every/probability), and act on that connection's handshake only.
enum HandshakeFault: Equatable {
    /// Present this certificate profile instead of the proxy's (`tls.profile`).
    case profile(CertificateProfile)
    /// Answer the ClientHello with this fatal alert (`tls.alert`).
    case alert(UInt8)
    /// Hold the handshake this long after the ClientHello (`tls.handshake_delay`).
    case delay(Duration)
    /// RST after the ClientHello (`tls.reset_handshake`).
    case reset
    /// FIN after the ClientHello (`tls.close_handshake`).
    case close
    /// Speak no version above this one (`tls.max_version`), an OpenSSL version constant.
    case maxVersion(Int32)
    /// Demand a client certificate (`tls.require_client_cert`).
    case requireClientCert

    var isAlert: Bool { if case .alert = self { true } else { false } }
}

/// The effect of a TLS fault on one link: it only shapes the handshake.
final class HandshakeEffect: LinkEffect {
    let handshake: HandshakeFault?
    private let live: LiveToken

    init(_ handshake: HandshakeFault, link: Link) {
        self.handshake = handshake
        live = LiveToken(.effect, on: link.loop)
    }
}

/// The TLS fault kinds (proxies with `tls:`).
enum TLSFaults {
    static let kinds = [profile, alert, handshakeDelay, resetHandshake, closeHandshake, maxVersion, requireClientCert]

    static let profile = FaultKind(
        name: "tls.profile",
        summary: "present another certificate profile to new handshakes (a phase switching what clients meet)",
        parameters: [FaultParameter("profile", .choice(CertificateProfile.allCases.map(\.rawValue)), default: nil,
                                    "the profile new handshakes meet; see `faultline faults` for what each produces")],
        example: "tls.profile:profile=expired"
    ) { fault, link in
        HandshakeEffect(.profile(CertificateProfile(rawValue: fault.word("profile")) ?? .valid), link: link)
    }

    static let alert = FaultKind(
        name: "tls.alert",
        summary: "answer the ClientHello with a fatal TLS alert (the client reports e.g. \"sslv3 alert handshake failure\")",
        parameters: [FaultParameter("alert", .choice(TLSAlert.names), default: .word("handshake_failure"),
                                    "the alert's RFC 8446 name")],
        example: "tls.alert:alert=protocol_version"
    ) { fault, link in
        HandshakeEffect(.alert(TLSAlert.code(named: fault.word("alert")) ?? 40), link: link)
    }

    static let handshakeDelay = FaultKind(
        name: "tls.handshake_delay",
        summary: "hold the server's answer to the ClientHello (a slow TLS terminator)",
        parameters: [FaultParameter("delay", .duration(bareUnit: .milliseconds), default: nil,
                                    "how long after the ClientHello the handshake goes on (bare numbers are ms)")],
        example: "tls.handshake_delay:delay=3s"
    ) { fault, link in
        HandshakeEffect(.delay(fault.duration("delay")), link: link)
    }

    static let resetHandshake = FaultKind(
        name: "tls.reset_handshake",
        summary: "RST right after the ClientHello (\"Connection reset by peer\" during the handshake)",
        parameters: [],
        example: "tls.reset_handshake:first=2"
    ) { _, link in
        HandshakeEffect(.reset, link: link)
    }

    static let closeHandshake = FaultKind(
        name: "tls.close_handshake",
        summary: "FIN right after the ClientHello (the client sees UNEXPECTED_EOF_WHILE_READING / \"EOF occurred in violation of protocol\")",
        parameters: [],
        example: "tls.close_handshake"
    ) { _, link in
        HandshakeEffect(.close, link: link)
    }

    /// TLS versions by the name `tls.max_version` takes.
    static let versions: [(name: String, code: Int32)] = [("1.0", TLS1_VERSION), ("1.1", TLS1_1_VERSION), ("1.2", TLS1_2_VERSION)]

    static let maxVersion = FaultKind(
        name: "tls.max_version",
        summary: "speak no TLS version above this (a legacy server: modern clients see \"tlsv1 alert protocol version\")",
        parameters: [FaultParameter("version", .choice(versions.map(\.name)), default: nil, "the highest version offered")],
        example: "tls.max_version:version=1.0"
    ) { fault, link in
        HandshakeEffect(.maxVersion(versions.first { $0.name == fault.word("version") }?.code ?? TLS1_2_VERSION), link: link)
    }

    static let requireClientCert = FaultKind(
        name: "tls.require_client_cert",
        summary: "demand a client certificate and trust none (a server requiring mutual TLS the client is not set up for: "
            + "a TLS 1.3 client without one sees \"tlsv13 alert certificate required\", one with a certificate \"tlsv1 alert unknown ca\")",
        parameters: [],
        example: "tls.require_client_cert"
    ) { _, link in
        HandshakeEffect(.requireClientCert, link: link)
    }
}
