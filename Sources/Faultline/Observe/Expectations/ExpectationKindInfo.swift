/// The type a parameter's YAML value must have.
public enum ExpectationValueType: String, Sendable, Equatable {
    /// A plain number: `6`, `2.5`.
    case number
    /// A whole number: `6` (held as a `.number` value).
    case count
    /// `250ms`, `10s`, `1m`.
    case duration
    /// A string.
    case text
    /// `true` or `false`.
    case flag
}

/// One parameter of an expectation kind, for the loader's checks and for docs.
public struct ExpectationParameterInfo: Sendable {
    /// The key (or, for the scalar form, the name the value is stored under).
    public let name: String
    /// How the loader must type the YAML value.
    public let type: ExpectationValueType
    /// Whether the expectation is meaningless without it.
    public let required: Bool
    /// One line: what the value means.
    public let meaning: String
    /// A value as a user writes it, e.g. `10s`.
    public let example: String
    /// The smallest value that means something (`failures: 0` would open a breaker before
    /// anything failed); numbers and counts only.
    public let minimum: Int

    init(_ name: String, _ type: ExpectationValueType, required: Bool = true, minimum: Int = 0, _ meaning: String,
         example: String) {
        self.name = name
        self.type = type
        self.required = required
        self.minimum = minimum
        self.meaning = meaning
        self.example = example
    }

    /// The largest count or number any parameter takes: beyond it a figure means nothing and
    /// arithmetic on it could overflow.
    public static let maximum = Int(Int32.max)

    /// How a count parameter is read: whole, from `minimum` to `maximum`.
    public var countQuantity: Quantity {
        Quantity(expected: "a whole number ≥ \(minimum) such as \(example)", range: UInt64(minimum)...UInt64(Self.maximum),
                 rangeText: "'\(name)' goes from \(minimum) to \(Self.maximum)")
    }

    /// Whether a typed value is outside the parameter's range; the reason when it is.
    func rangeProblem(_ value: ExpectationValue) -> String? {
        switch value {
        case .number(let number) where number < Double(minimum) || number > Double(Self.maximum):
            return "'\(name)' goes from \(minimum) to \(Self.maximum), not \(value)"
        case .duration(let duration) where duration < .zero || duration > DurationText.maximum:
            return "'\(name)' goes from 0 to 8760h (1 year), not \(value)"
        default:
            return nil
        }
    }
}

/// An expectation kind: its name, what it checks and its parameters. `ExpectationSpec.kinds`
/// lists them all; the YAML loader validates against it and docs/scenarios.md is built from it.
public struct ExpectationKindInfo: Sendable {
    /// The YAML key, e.g. `max_rate`.
    public let name: String
    /// What holds when the expectation passes, including the exact rule (windows, tolerances).
    public let summary: String
    /// Its parameters, in the order labels and docs show them.
    public let parameters: [ExpectationParameterInfo]
    /// The parameter a scalar value sets (`max_rate: 10` sets `rate`); nil when only the
    /// mapping form (`quiet_after_failures: {failures: 5, quiet: 10s}`) is allowed.
    public let scalarParameter: String?
    /// One YAML expectation entry showing typical use.
    public let example: String

    /// Everything wrong with `parameters` for this kind, one message each: unknown keys (with
    /// a suggestion), missing required ones, wrong types. Empty when they are fine.
    public func problems(in parameters: [String: ExpectationValue]) -> [String] {
        var problems: [String] = []
        let known = self.parameters.map(\.name)
        for key in parameters.keys.sorted() where !known.contains(key) {
            let hint = Suggestion.closest(to: key, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            problems.append("\(name) has no parameter '\(key)'\(hint); it takes \(known.joined(separator: ", "))")
        }
        for parameter in self.parameters {
            guard let value = parameters[parameter.name] else {
                if parameter.required { problems.append("\(name) needs '\(parameter.name)' (\(parameter.meaning))") }
                continue
            }
            let type = parameter.type == .count ? .number : parameter.type
            if value.type != type {
                problems.append("\(name): '\(parameter.name)' must be a \(parameter.type.rawValue) such as \(parameter.example), not \(value)")
            } else if case .number(let number) = value, !(number.isFinite && number >= 0) {
                problems.append("\(name): '\(parameter.name)' must be a number ≥ 0, not \(value)")
            } else if case .number(let number) = value, parameter.type == .count, number != number.rounded() {
                problems.append("\(name): '\(parameter.name)' must be a whole number, not \(value)")
            } else if case .flag(false) = value, parameter.name == scalarParameter {
                // A check that is only a flag (`backoff: true`) means nothing when false.
                problems.append("\(name): false is not an expectation; write true or remove it")
            } else if let problem = parameter.rangeProblem(value) {
                problems.append("\(name): \(problem)")
            }
        }
        return problems
    }
}

extension ExpectationSpec {
    /// Every expectation kind faultline evaluates, in the order docs list them.
    public static let kinds: [ExpectationKindInfo] = expectationChecks.map { $0.info }

    /// The kind called `name`, if there is one.
    public static func kind(named name: String) -> ExpectationKindInfo? {
        kinds.first { $0.name == name }
    }
}

/// The implementation of every kind; adding a kind means one file and one line here.
let expectationChecks: [any ExpectationCheck.Type] = [
    MaxConnectionAttempts.self,
    MaxRequests.self,
    MaxAuthAttempts.self,
    MaxRate.self,
    Backoff.self,
    QuietAfterFailures.self,
    ProbeAfter.self,
    FirstSuccessWithin.self,
    NoRequest.self,
    ClientRejectsCertificate.self,
]
