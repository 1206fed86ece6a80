/// Events as JSON objects: one per event, for the control API's live stream (`GET /events`)
/// and the recorder's `events.jsonl`.
///
/// Members, in this order: `time` (seconds since the bus started, exactly 6 decimals),
/// `kind` (the case's name as written in Swift), `proxy` and `link` when the event has them,
/// then the case's associated values under their Swift labels. Durations are seconds with 6
/// decimals; optional values are left out when nil. Two exceptions, because a label would
/// clash or there is none: the fault events' `kind:` is written `faultKind` (the event's own
/// `kind` comes first), and `commandExited` writes `exit` (`exited` or `killed`), `status`
/// (the shell's view: the code, or 128+N when killed by signal N) and `signal` when killed.
///
///     {"time":12.000345,"kind":"connectionClosed","proxy":"redis","link":3,"bytesUp":120,"bytesDown":4096,"reset":false}
extension Event {
    /// The version of the object layout `json` writes; the recorder stores it as `"v"`. Raise
    /// it when a member is renamed or changes meaning (adding a kind or a member is compatible).
    public static let jsonSchemaVersion = 1

    /// The event as one JSON object (see the extension's comment for its members).
    public var json: JSONObject {
        var object = JSONObject()
        object["time"] = .number(Self.seconds(time))
        object["kind"] = .string(Self.kindName(kind))
        if let proxy { object["proxy"] = .string(proxy) }
        if let link { object["link"] = .int(link) }
        switch kind {
        case .listening(let address):
            object["address"] = .string(address)
        case .connectionOpened, .upstreamConnected, .exchangeStarted, .exchangeAnswered, .exchangeAbandoned,
             .requestAbandoned:
            break
        case .tlsHandshakeCompleted(let profile, let version, let cipher, let sni, let alpn):
            object["profile"] = .string(profile)
            object["version"] = .string(version)
            object["cipher"] = .string(cipher)
            if let sni { object["sni"] = .string(sni) }
            if let alpn { object["alpn"] = .string(alpn) }
        case .tlsHandshakeFailed(let profile, let reason, let alert):
            object["profile"] = .string(profile)
            object["reason"] = .string(reason)
            if let alert { object["alert"] = .string(alert) }
        case .requestStarted(let detail):
            object["detail"] = .string(detail)
        case .requestAnswered(let error, let byFaultline, let latency, let handshake):
            if let error { object["error"] = .string(error) }
            object["byFaultline"] = .bool(byFaultline)
            object["latency"] = .number(Self.seconds(latency))
            object["handshake"] = .bool(handshake)
        case .responseStarted(let status, let byFaultline, let firstByte):
            object["status"] = .int(status)
            object["byFaultline"] = .bool(byFaultline)
            object["firstByte"] = .number(Self.seconds(firstByte))
        case .protocolError(let fromClient, let message):
            object["fromClient"] = .bool(fromClient)
            object["message"] = .string(message)
        case .upstreamFailed(let reason):
            object["reason"] = .string(reason)
        case .connectionClosed(let bytesUp, let bytesDown, let reset):
            object["bytesUp"] = .int(bytesUp)
            object["bytesDown"] = .int(bytesDown)
            object["reset"] = .bool(reset)
        case .faultOn(let name, let faultKind), .faultOff(let name, let faultKind), .faultApplied(let name, let faultKind):
            object["name"] = .string(name)
            object["faultKind"] = .string(faultKind)
        case .faultFired(let name, let faultKind, let action):
            object["name"] = .string(name)
            object["faultKind"] = .string(faultKind)
            object["action"] = .string(action)
        case .phaseStarted(let name), .phaseEnded(let name):
            object["name"] = .string(name)
        case .commandStarted(let command, let pid):
            object["command"] = .string(command)
            object["pid"] = .int(pid)
        case .commandExited(let exit):
            switch exit {
            case .exited:
                object["exit"] = .string("exited")
                object["status"] = .int(exit.status)
            case .killed(let signal):
                object["exit"] = .string("killed")
                object["status"] = .int(exit.status)
                object["signal"] = .int(signal)
            }
        case .stopping(let signal, let commandGroup, let killAfter):
            object["signal"] = .int(signal)
            if let commandGroup { object["commandGroup"] = .int(commandGroup) }
            object["killAfter"] = .number(Self.seconds(killAfter))
        case .verdict(let label, let expectation, let status, let observed):
            object["label"] = .string(label)
            object["expectation"] = .string(expectation)
            object["status"] = .string(status)
            object["observed"] = .string(observed)
        case .recordingStopped(let file, let reason):
            object["file"] = .string(file)
            object["reason"] = .string(reason)
        }
        return object
    }

    /// The kind's case name as written in Swift (`connectionOpened`, `faultFired`): the JSON
    /// `kind`, and what `GET /events?kind=` filters on.
    public static func kindName(_ kind: Event.Kind) -> String {
        KindName(kind).rawValue
    }

    /// Every kind's name, in declaration order, for validating `?kind=` filters.
    public static let kindNames: [String] = KindName.allCases.map(\.rawValue)

    /// The kinds without their values. Adding a case to `Kind` fails the build in `init(_:)`
    /// until it is mapped here, and the name then appears in `kindNames` by itself.
    enum KindName: String, CaseIterable, Sendable {
        case listening, connectionOpened, upstreamConnected, exchangeStarted, exchangeAnswered, exchangeAbandoned
        case tlsHandshakeCompleted, tlsHandshakeFailed
        case requestStarted, requestAnswered, responseStarted, requestAbandoned, protocolError
        case upstreamFailed, connectionClosed
        case faultOn, faultOff, faultApplied, faultFired
        case phaseStarted, phaseEnded, commandStarted, commandExited, stopping
        case verdict, recordingStopped

        init(_ kind: Event.Kind) {
            switch kind {
            case .listening: self = .listening
            case .connectionOpened: self = .connectionOpened
            case .upstreamConnected: self = .upstreamConnected
            case .exchangeStarted: self = .exchangeStarted
            case .exchangeAnswered: self = .exchangeAnswered
            case .exchangeAbandoned: self = .exchangeAbandoned
            case .tlsHandshakeCompleted: self = .tlsHandshakeCompleted
            case .tlsHandshakeFailed: self = .tlsHandshakeFailed
            case .requestStarted: self = .requestStarted
            case .requestAnswered: self = .requestAnswered
            case .responseStarted: self = .responseStarted
            case .requestAbandoned: self = .requestAbandoned
            case .protocolError: self = .protocolError
            case .upstreamFailed: self = .upstreamFailed
            case .connectionClosed: self = .connectionClosed
            case .faultOn: self = .faultOn
            case .faultOff: self = .faultOff
            case .faultApplied: self = .faultApplied
            case .faultFired: self = .faultFired
            case .phaseStarted: self = .phaseStarted
            case .phaseEnded: self = .phaseEnded
            case .commandStarted: self = .commandStarted
            case .commandExited: self = .commandExited
            case .stopping: self = .stopping
            case .verdict: self = .verdict
            case .recordingStopped: self = .recordingStopped
            }
        }
    }

    /// A duration as seconds with exactly 6 decimals (rounded to the nearest microsecond):
    /// `12.000345`, `0.000000`, `-0.500000`.
    static func seconds(_ duration: Duration) -> String {
        // The components share the duration's sign; microseconds rounded half away from zero.
        var (whole, atto) = duration.components
        var micros = (atto + (atto >= 0 ? 500_000_000_000 : -500_000_000_000)) / 1_000_000_000_000
        if micros.magnitude == 1_000_000 {
            let (carried, overflow) = whole.addingReportingOverflow(micros.signum())
            if !overflow { whole = carried; micros = 0 } else { micros -= micros.signum() }
        }
        let fraction = String(micros.magnitude)
        return (whole < 0 || micros < 0 ? "-" : "") + String(whole.magnitude) + "."
            + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
