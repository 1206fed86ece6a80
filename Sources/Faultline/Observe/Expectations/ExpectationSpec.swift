/// One expectation as the scenario file states it: a kind (`max_rate`), its parameters, the
/// phase it is judged in and the proxy it watches. The YAML loader builds these; the
/// `ExpectationEvaluator` judges them. `ExpectationSpec.kinds` lists what may be written.
public struct ExpectationSpec: Sendable, Equatable {
    /// The kind's name as written in YAML, e.g. `max_connection_attempts`.
    public let kind: String
    /// Only events of this proxy count; nil watches every proxy.
    public let proxy: String?
    /// The part of the run the expectation is judged on.
    public let scope: Scope
    /// The kind's parameters by name. A scalar (`max_rate: 10`) is stored under the kind's
    /// `ExpectationKindInfo.scalarParameter`.
    public let parameters: [String: ExpectationValue]
    /// What the verdict, the log and JUnit call it.
    public let label: String

    /// The part of a run an expectation is judged on.
    public enum Scope: Sendable, Equatable, CustomStringConvertible {
        /// From the start of the run to its end.
        case whole
        /// From the phase's start to its end (to the end of the run if it never ended).
        case during(String)
        /// From the phase's end to the end of the run.
        case after(String)

        /// As in YAML: `during: outage`; empty for the whole run.
        public var description: String {
            switch self {
            case .whole: ""
            case .during(let phase): "during: \(phase)"
            case .after(let phase): "after: \(phase)"
            }
        }
    }

    /// Declares an expectation; `label` defaults to the YAML it came from, e.g.
    /// `max_rate: 10 (during: outage, proxy: redis)`.
    public init(kind: String, proxy: String? = nil, scope: Scope = .whole,
                parameters: [String: ExpectationValue] = [:], label: String? = nil) {
        self.kind = kind
        self.proxy = proxy
        self.scope = scope
        self.parameters = parameters
        self.label = label ?? Self.defaultLabel(kind: kind, proxy: proxy, scope: scope, parameters: parameters)
    }

    /// The expectation written back as YAML-ish text, parameters in the kind's declared order.
    static func defaultLabel(kind: String, proxy: String?, scope: Scope,
                             parameters: [String: ExpectationValue]) -> String {
        let info = ExpectationSpec.kinds.first { $0.name == kind }
        let order = info?.parameters.map(\.name) ?? []
        // Declared parameters first, in the kind's order; anything else after, sorted, so a
        // label never depends on dictionary order.
        let names = order.filter { parameters[$0] != nil } + parameters.keys.filter { !order.contains($0) }.sorted()
        let value: String
        if names.count == 1, let only = names.first, only == info?.scalarParameter, let scalar = parameters[only] {
            value = scalar.description
        } else {
            value = "{" + names.compactMap { name in parameters[name].map { "\(name): \($0)" } }.joined(separator: ", ") + "}"
        }
        let context = [scope.description, proxy.map { "proxy: \($0)" } ?? ""].filter { !$0.isEmpty }
        return "\(kind): \(value)" + (context.isEmpty ? "" : " (\(context.joined(separator: ", ")))")
    }
}

/// A parameter value, already typed by the loader (which reads the expected type from
/// `ExpectationKindInfo`).
public enum ExpectationValue: Sendable, Equatable, CustomStringConvertible {
    /// A count, a rate per second, any plain number.
    case number(Double)
    /// `250ms`, `10s`.
    case duration(Duration)
    /// Free text, e.g. a request pattern.
    case text(String)
    /// `true` / `false`.
    case flag(Bool)

    /// As written in YAML: `10`, `2.5`, `10s`, `"GET /x"`, `true`.
    public var description: String {
        switch self {
        case .number(let value): Figures.number(value)
        case .duration(let value): DurationText.format(value)
        case .text(let value): "\"\(value)\""
        case .flag(let value): String(value)
        }
    }

    /// The type this value has.
    public var type: ExpectationValueType {
        switch self {
        case .number: .number
        case .duration: .duration
        case .text: .text
        case .flag: .flag
        }
    }
}
