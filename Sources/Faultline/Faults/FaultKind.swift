/// A kind of fault (`tcp.latency`, …): its parameters, its documentation and how it acts.
///
/// Each kind lives in one file under Faults/ and is listed once in `FaultRegistry`; the CLI's
/// `faults` listing, `--fault` parsing and the Toxiproxy mapping are all read from here.
public struct FaultKind: Sendable {
    /// `LAYER.KIND`.
    public let name: String
    /// One line: what a client meets.
    public let summary: String
    /// The kind's own parameters (the common ones are in `Fault.commonParameters`).
    public let parameters: [FaultParameter]
    /// A `--fault` value that shows typical use.
    public let example: String
    /// `direction` when none is given.
    public let defaultDirection: FaultDirection
    /// Whether `direction` changes what the fault does (it acts on one way's bytes).
    public let directional: Bool
    /// Whether the fault must see or hold the bytes (the link then leaves the splice path).
    public let touchesBytes: Bool
    /// Whether the kind decides per message (a Redis command), not per connection: `first`,
    /// `every` and `probability` then pick messages, and no link is selected at accept.
    public let selectsCommands: Bool
    /// The Toxiproxy toxic this kind answers to, when there is one.
    public let toxiproxy: ToxiproxyName?
    /// Checks that need more than one parameter (e.g. cutoff needs `after` or `idle`).
    let check: @Sendable (Fault) throws -> Void
    /// What the fault does to one link it applies to.
    let effect: @Sendable (Fault, Link) -> any LinkEffect
    /// Whether the fault closes the listening port itself (`tcp.down` with `mode=refuse`).
    let closesListener: @Sendable (Fault) -> Bool

    init(name: String, summary: String, parameters: [FaultParameter], example: String,
         directional: Bool = false, defaultDirection: FaultDirection = .downstream, touchesBytes: Bool = false,
         selectsCommands: Bool = false, toxiproxy: ToxiproxyName? = nil,
         check: @escaping @Sendable (Fault) throws -> Void = { _ in },
         closesListener: @escaping @Sendable (Fault) -> Bool = { _ in false },
         effect: @escaping @Sendable (Fault, Link) -> any LinkEffect) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.example = example
        self.defaultDirection = defaultDirection
        self.directional = directional
        self.touchesBytes = touchesBytes
        self.selectsCommands = selectsCommands
        self.toxiproxy = toxiproxy
        self.check = check
        self.closesListener = closesListener
        self.effect = effect
    }

    func unknownParameterMessage(_ key: String) -> String {
        let known = (parameters + Fault.commonParameters).map(\.name)
        let hint = Suggestion.closest(to: key, in: known).map { " (did you mean '\($0)'?)" } ?? ""
        return "\(name) has no such parameter\(hint); it takes \(known.joined(separator: ", "))"
    }
}

/// How a kind appears in Toxiproxy's API: its toxic `type` and, for each Toxiproxy attribute,
/// the faultline parameter it sets.
public struct ToxiproxyName: Sendable {
    /// Toxiproxy's `type`, e.g. `latency`.
    public let type: String
    /// Toxiproxy attribute → faultline parameter, e.g. `latency` → `ms`, in the order
    /// Toxiproxy writes the attributes.
    public let attributes: KeyValuePairs<String, String>

    /// The faultline parameter Toxiproxy's attribute `name` sets, if it is one of the type's.
    public func parameter(forAttribute name: String) -> String? {
        attributes.first { $0.key == name }?.value
    }

    /// The Toxiproxy attribute that shows faultline's parameter `name`, if there is one.
    public func attribute(forParameter name: String) -> String? {
        attributes.first { $0.value == name }?.key
    }
}

/// What one fault does to one link while it applies to it.
protocol LinkEffect: AnyObject {
    /// Before the upstream connect: go on, wait, or fail the connection.
    func beforeConnect() -> ConnectDecision
    /// The client is accepted (or already was when the fault arrived), connected or not:
    /// start what counts from the accept.
    func accepted()
    /// The link is connected (or was already when the fault arrived): start acting.
    func attach()
    /// The fault is removed: undo what `attach` did; held bytes move on in order.
    func detach()
    /// What the fault does to the client's TLS handshake, if anything.
    var handshake: HandshakeFault? { get }
}

extension LinkEffect {
    func beforeConnect() -> ConnectDecision { .proceed }
    func accepted() {}
    func attach() {}
    func detach() {}
    var handshake: HandshakeFault? { nil }
}

/// What a fault decides about a connection that is about to reach its upstream.
enum ConnectDecision: Equatable {
    case proceed
    /// Hold the upstream connect this long.
    case delay(Duration)
    /// Behave as if the upstream's port were closed.
    case refuse
    /// Drop the client right away: with an RST (`true`) or a FIN.
    case reject(reset: Bool)
    /// Write these bytes to the client (after its TLS handshake), then close with a FIN, as a
    /// server that turns connections away does (`redis.max_clients`).
    case respond(String)
}
