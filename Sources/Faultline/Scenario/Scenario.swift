/// A scenario file, checked and typed: proxies, a timeline of phases with their faults,
/// faults for the whole run and expectations on the client. Built by `ScenarioLoader`, which
/// guarantees that every name a fault or expectation refers to exists.
public struct Scenario: Sendable {
    /// `name:`, or the file's name without its extension when the file has none.
    public var name: String
    /// `description:`, one line on the incident.
    public var description: String?
    /// `seed:`; nil means the run picks one (and prints it so it can be repeated).
    public var seed: UInt64?
    /// `proxies:`, in file order; names are unique.
    public var proxies: [ScenarioProxy]
    /// `timeline:`, in order; at least one phase, names unique.
    public var timeline: [ScenarioPhase]
    /// Top-level `faults:`, active for the whole run.
    public var faults: [ScenarioFault]
    /// `expect:`, in file order.
    public var expectations: [ScenarioExpectation]

    /// The expectations as the evaluator takes them.
    public var expectationSpecs: [ExpectationSpec] { expectations.map(\.spec) }

    /// The timeline's length: the sum of its phases.
    public var duration: Duration { timeline.reduce(.zero) { $0 + $1.duration } }

    /// Every fault in the file: whole-run ones, then each phase's.
    public var allFaults: [ScenarioFault] { faults + timeline.flatMap(\.faults) }

    /// The proxy called `name`.
    public func proxy(named name: String) -> ScenarioProxy? { proxies.first { $0.name == name } }

    /// The phase called `name`.
    public func phase(named name: String) -> ScenarioPhase? { timeline.first { $0.name == name } }
}

/// What a proxy speaks, which decides the faults it takes (`redis.*` needs `redis`).
public enum ProxyProtocol: String, Sendable, CaseIterable {
    /// Bytes only; takes `tcp.*` faults.
    case tcp
    /// RESP2/RESP3; takes `tcp.*` and `redis.*`.
    case redis
    /// HTTP/1.1; takes `tcp.*` and `http.*`.
    case http

    /// What faultline can proxy today. The others are named already, so that a file asking for
    /// one is refused with that reason instead of silently running as TCP.
    public static let available: [ProxyProtocol] = [.tcp, .redis, .http]

    /// Reads a protocol's name; the error tells a word that is no protocol from a protocol that
    /// is not available yet.
    public static func parse(_ text: String) throws(ProtocolError) -> ProxyProtocol {
        let names = allCases.map(\.rawValue)
        guard let value = ProxyProtocol(rawValue: text) else {
            throw ProtocolError(message: "'\(text)' is not a protocol\(Suggestion.hint(for: text, in: names))")
        }
        guard available.contains(value) else {
            let speaks = Suggestion.list(available.map(\.rawValue), conjunction: "and")
            throw ProtocolError(message: "'\(text)' is not available yet (faultline speaks \(speaks) for now)")
        }
        return value
    }
}

/// A `protocol:` or `--protocol` value faultline cannot use, and why.
public struct ProtocolError: Error, Sendable, CustomStringConvertible {
    /// `'foo' is not a protocol; expected tcp, redis or http`.
    public let message: String
    public var description: String { message }
}

/// One entry of `proxies:`.
public struct ScenarioProxy: Sendable {
    /// The key under `proxies:`; faults and expectations name it with `proxy:`.
    public let name: String
    /// Where clients connect.
    public let listen: SocketAddress
    /// Where the proxy forwards.
    public let upstream: SocketAddress
    /// `protocol:`, `tcp` by default.
    public let `protocol`: ProxyProtocol
    /// `tls:`: terminate TLS toward clients, presenting this certificate profile; nil: plain.
    public let tls: ServerTLS?
    /// `upstream_tls:`: speak TLS to the upstream; nil: plain. Its `caFile` is resolved
    /// against the scenario file's directory and was readable when the file was loaded.
    public let upstreamTLS: UpstreamTLS?
    /// Where the proxy's name is written.
    public let position: SourcePosition
}

/// One entry of `timeline:`.
public struct ScenarioPhase: Sendable {
    /// `phase:`; expectations name it with `during:` and `after:`.
    public let name: String
    /// `for:`, above zero.
    public let duration: Duration
    /// The phase's `faults:`, active from its start to its end.
    public let faults: [ScenarioFault]
    /// Where the phase's entry starts.
    public let position: SourcePosition
}

/// One fault entry (`LAYER.KIND: {params}`) with the proxy it goes on.
public struct ScenarioFault: Sendable {
    /// The proxy's name: `proxy:`, or the only proxy.
    public let proxy: String
    /// The built fault, parameters checked by its kind.
    public let fault: Fault
    /// Where `LAYER.KIND` is written.
    public let position: SourcePosition
}

/// One entry of `expect:`: the `ExpectationSpec` the evaluator judges, with where each part
/// is written so a later message (a phase that never ran) can point at the file.
public struct ScenarioExpectation: Sendable {
    /// Kind, proxy (nil: every proxy), scope and typed parameters.
    public let spec: ExpectationSpec
    /// Where the entry starts.
    public let position: SourcePosition
    /// Where each given parameter's value is written; defaults and absent ones have none.
    public let parameterPositions: [String: SourcePosition]
}
