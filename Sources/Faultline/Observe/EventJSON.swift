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
        var writer = JSONObjectMembers()
        writer.number("time", Self.seconds(time))
        writer.string("kind", Self.kindName(kind))
        if let proxy { writer.string("proxy", proxy) }
        if let link { writer.int("link", link) }
        writeMembers(to: &writer)
        return writer.object
    }

    /// Hands the kind's own members (after `kind`, `proxy` and `link`) to `fields`, in order:
    /// one switch for every way an event is written (`json`, the recorder's lines).
    func writeMembers<Fields: EventMemberSink>(to fields: inout Fields) {
        switch kind {
        case .listening(let address):
            fields.string("address", address)
        case .connectionOpened, .upstreamConnected, .exchangeStarted, .exchangeAnswered, .exchangeAbandoned,
             .requestAbandoned:
            break
        case .tlsHandshakeCompleted(let profile, let version, let cipher, let sni, let alpn):
            fields.string("profile", profile)
            fields.string("version", version)
            fields.string("cipher", cipher)
            if let sni { fields.string("sni", sni) }
            if let alpn { fields.string("alpn", alpn) }
        case .tlsHandshakeFailed(let profile, let reason, let alert):
            fields.string("profile", profile)
            fields.string("reason", reason)
            if let alert { fields.string("alert", alert) }
        case .requestStarted(let detail):
            fields.string("detail", detail)
        case .requestAnswered(let error, let byFaultline, let latency, let handshake):
            if let error { fields.string("error", error) }
            fields.bool("byFaultline", byFaultline)
            fields.seconds("latency", latency)
            fields.bool("handshake", handshake)
        case .responseStarted(let status, let byFaultline, let firstByte):
            fields.int("status", status)
            fields.bool("byFaultline", byFaultline)
            fields.seconds("firstByte", firstByte)
        case .protocolError(let fromClient, let message):
            fields.bool("fromClient", fromClient)
            fields.string("message", message)
        case .upstreamFailed(let reason):
            fields.string("reason", reason)
        case .connectionClosed(let bytesUp, let bytesDown, let reset):
            fields.int("bytesUp", bytesUp)
            fields.int("bytesDown", bytesDown)
            fields.bool("reset", reset)
        case .faultOn(let name, let faultKind), .faultOff(let name, let faultKind), .faultApplied(let name, let faultKind):
            fields.string("name", name)
            fields.string("faultKind", faultKind)
        case .faultFired(let name, let faultKind, let action):
            fields.string("name", name)
            fields.string("faultKind", faultKind)
            fields.string("action", action)
        case .phaseStarted(let name), .phaseEnded(let name):
            fields.string("name", name)
        case .commandStarted(let command, let pid):
            fields.string("command", command)
            fields.int("pid", pid)
        case .commandExited(let exit):
            switch exit {
            case .exited:
                fields.string("exit", "exited")
                fields.int("status", exit.status)
            case .killed(let signal):
                fields.string("exit", "killed")
                fields.int("status", exit.status)
                fields.int("signal", signal)
            }
        case .stopping(let signal, let commandGroup, let killAfter):
            fields.int("signal", signal)
            if let commandGroup { fields.int("commandGroup", commandGroup) }
            fields.seconds("killAfter", killAfter)
        case .verdict(let label, let expectation, let status, let observed):
            fields.string("label", label)
            fields.string("expectation", expectation)
            fields.string("status", status)
            fields.string("observed", observed)
        case .recordingStopped(let file, let reason):
            fields.string("file", file)
            fields.string("reason", reason)
        }
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
        let (negative, whole, micros) = secondsParts(duration)
        let fraction = String(micros)
        return (negative ? "-" : "") + String(whole) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// A duration's sign, whole seconds and microseconds (rounded half away from zero), as
    /// `seconds` writes them.
    static func secondsParts(_ duration: Duration) -> (negative: Bool, whole: UInt64, micros: UInt64) {
        // The components share the duration's sign.
        var (whole, atto) = duration.components
        var micros = (atto + (atto >= 0 ? 500_000_000_000 : -500_000_000_000)) / 1_000_000_000_000
        if micros.magnitude == 1_000_000 {
            let (carried, overflow) = whole.addingReportingOverflow(micros.signum())
            if !overflow { whole = carried; micros = 0 } else { micros -= micros.signum() }
        }
        return (whole < 0 || micros < 0, whole.magnitude, UInt64(micros.magnitude))
    }
}

/// Where `Event.writeMembers` puts an event's members: a JSON object for the API, bytes for
/// the recorder. Keys are static: writing a member allocates nothing for its key.
protocol EventMemberSink {
    mutating func string(_ key: StaticString, _ value: String)
    mutating func int<Value: BinaryInteger>(_ key: StaticString, _ value: Value)
    mutating func bool(_ key: StaticString, _ value: Bool)
    mutating func seconds(_ key: StaticString, _ value: Duration)
}

/// Builds `Event.json`'s object.
struct JSONObjectMembers: EventMemberSink {
    var object = JSONObject()

    mutating func number(_ key: StaticString, _ text: String) { object[key.description] = .number(text) }
    mutating func string(_ key: StaticString, _ value: String) { object[key.description] = .string(value) }
    mutating func int<Value: BinaryInteger>(_ key: StaticString, _ value: Value) { object[key.description] = .int(value) }
    mutating func bool(_ key: StaticString, _ value: Bool) { object[key.description] = .bool(value) }
    mutating func seconds(_ key: StaticString, _ value: Duration) { object[key.description] = .number(Event.seconds(value)) }
}
