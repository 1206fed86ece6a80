/// `client_rejects_certificate: true`: shown a bad certificate, the client aborts the TLS
/// handshake instead of sending data — it did not turn verification off.
///
/// Judged on the handshakes in scope under a profile other than `valid`:
/// - a connection that completed one and then sent data is a violation: the client accepted
///   what a verifying client refuses (Python `CERT_NONE`, `verify=False`, `curl -k`);
/// - a handshake the client aborted (with an alert or by closing) is the rejection wanted;
/// - a completed handshake with no data after it is no violation (some clients, Node's and
///   curl's host check among them, verify after the handshake and then close) and is reported
///   in the figure, but it is no rejection either;
/// - a handshake a `tls.*` fault ended (see `TLSFactExtractor`), a client that did not speak
///   TLS, or one that left before a whole ClientHello (a port probe), shows nothing about
///   verification and is left out.
///
/// A pass needs at least one handshake the client aborted; otherwise the verdict is an error,
/// never a pass: under `valid` a client has nothing to reject, a proxy without `tls:` has no
/// handshakes at all, and completed handshakes without data cannot tell.
enum ClientRejectsCertificate: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "client_rejects_certificate",
        summary: "Under a bad certificate profile (any but `valid`, on a proxy with `tls:`) the client aborts the TLS "
            + "handshake and sends no data. Fails, naming the connection, when a client completed a handshake under a "
            + "bad profile and then sent data (verification off: Python `CERT_NONE`, `verify=False`, `curl -k`); "
            + "a completed handshake followed by no data is no failure. Handshakes under `valid`, ones a `tls.*` "
            + "fault ended, clients that do not speak TLS and connections closed before a whole ClientHello (port "
            + "probes) are left out; a pass needs at least one handshake the client aborted, else the verdict is an "
            + "error, never a pass.",
        parameters: [.init("enabled", .flag, "must be true", example: "true")],
        scalarParameter: "enabled",
        example: "- proxy: tracing\n  client_rejects_certificate: true")

    /// How the reason of `tlsHandshakeFailed` begins when the client did not speak TLS at all
    /// (`not TLS (wrong version number)`).
    static let notTLS = "not TLS"
    /// How it begins when the client left before a whole ClientHello (a port probe).
    static let noClientHello = TLSHandshake.noClientHello

    /// One handshake in scope.
    private struct Handshake {
        let fact: Fact
        let profile: String
        let completed: Bool
        let alert: String?
        let reason: String?
        let fault: String?
    }

    private struct Connection: Hashable {
        let proxy: String?
        let link: UInt64?
        init(_ fact: Fact) { (proxy, link) = (fact.proxy, fact.link) }
    }

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        try context.requireTrue("enabled")
        let handshakes = context.tls.compactMap { fact -> Handshake? in
            guard context.window.contains(fact.time),
                  case .tlsHandshake(let profile, let completed, let alert, let reason, let fault) = fact.kind else { return nil }
            return Handshake(fact: fact, profile: profile, completed: completed, alert: alert, reason: reason, fault: fault)
        }
        let bad = handshakes.filter { $0.profile != CertificateProfile.valid.rawValue }
        guard !bad.isEmpty else {
            return .error(nothingToReject(handshakes: handshakes.count, connections: context.facts.filter(\.isAttempt).count))
        }
        let sentData = Set(context.tls.compactMap { fact in
            if case .tlsData = fact.kind { Connection(fact) } else { nil }
        })

        var offenders: [Handshake] = []
        var silent = 0
        var aborted = Tally(), byFault = Tally()
        var notTLS = 0, noHello = 0
        for handshake in bad {
            if handshake.completed {
                if sentData.contains(Connection(handshake.fact)) { offenders.append(handshake) } else { silent += 1 }
            } else if let fault = handshake.fault {
                byFault.add(fault)
            } else if handshake.alert == nil, handshake.reason?.hasPrefix(Self.notTLS) == true {
                notTLS += 1
            } else if handshake.alert == nil, handshake.reason?.hasPrefix(Self.noClientHello) == true {
                noHello += 1
            } else {
                aborted.add(handshake.alert.map { "alert \($0)" } ?? ("no alert" + (handshake.reason.map { " (\($0))" } ?? "")))
            }
        }

        if let first = offenders.first {
            let link = first.fact.link.map(String.init) ?? "?"
            return .fail("client_rejects_certificate: connection \(link) on \(first.fact.proxy ?? "the proxy")"
                + " completed the handshake under \(first.profile) at \(Figures.seconds(first.fact.time)) and sent data:"
                + " \(diagnosis(first.profile)) (\(offenders.count) of \(Figures.count(bad.count, "connection")))")
        }
        var parts: [String] = []
        if aborted.total > 0 { parts.append("\(aborted.total) aborted by the client (\(aborted))") }
        if silent > 0 { parts.append("\(silent) completed but sent no data") }
        if byFault.total > 0 { parts.append("\(byFault.total) ended by a fault (\(byFault))") }
        if notTLS > 0 { parts.append("\(notTLS) not TLS") }
        if noHello > 0 { parts.append("\(noHello) closed before a ClientHello") }
        let head = "client_rejects_certificate: \(Figures.count(bad.count, "handshake")) under \(profiles(of: bad))"
        if aborted.total > 0 {
            return .pass("\(head), \(parts.joined(separator: ", "))")
        }
        if silent > 0 {
            return .error("\(head), none aborted by the client: \(parts.joined(separator: ", ")); a client that completes "
                + "the handshake and closes may check afterwards or not at all, so this cannot tell")
        }
        return .error("\(head), none the client could judge: \(parts.joined(separator: ", "))")
    }

    /// Why there is nothing to judge: only `valid` handshakes, or none at all.
    private static func nothingToReject(handshakes: Int, connections: Int) -> String {
        if handshakes > 0 {
            return "client_rejects_certificate: \(Figures.count(handshakes, "handshake")) in scope, all under valid:"
                + " under valid the client has nothing to reject"
        }
        if connections > 0 {
            return "client_rejects_certificate: no TLS handshake in scope, though the client opened"
                + " \(Figures.count(connections, "connection")): the proxy may not have tls:"
        }
        return "client_rejects_certificate: no TLS handshake in scope: the client never connected"
    }

    /// What accepting `profile` says about the client.
    static func diagnosis(_ profile: String) -> String {
        switch CertificateProfile(rawValue: profile) {
        case .wrongHost: "the client does not check the host name"
        case .weakSignature: "the client accepts a SHA-1 signature"
        case .weakKey: "the client accepts an RSA-1024 key"
        default: "the client does not verify certificates"
        }
    }

    /// `incomplete_chain`, `expired and wrong_host`: the profiles met, in order of first use.
    private static func profiles(of handshakes: [Handshake]) -> String {
        var names: [String] = []
        for handshake in handshakes where !names.contains(handshake.profile) { names.append(handshake.profile) }
        guard names.count > 1, let last = names.last else { return names.first ?? "" }
        return names.dropLast().joined(separator: ", ") + " and " + last
    }

    /// Counts by label, in order of first appearance: `alert unknown_ca ×3, no alert (REASON) ×1`.
    private struct Tally: CustomStringConvertible {
        private var counts: [(label: String, count: Int)] = []
        var total: Int { counts.reduce(0) { $0 + $1.count } }

        mutating func add(_ label: String) {
            if let index = counts.firstIndex(where: { $0.label == label }) {
                counts[index].count += 1
            } else {
                counts.append((label, 1))
            }
        }

        var description: String { counts.map { "\($0.label) ×\($0.count)" }.joined(separator: ", ") }
    }
}
