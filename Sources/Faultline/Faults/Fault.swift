/// Which way a fault acts, named as Toxiproxy's `stream`.
public enum FaultDirection: String, Sendable, CaseIterable {
    /// Client → upstream bytes.
    case upstream
    /// Upstream → client bytes.
    case downstream
    /// Both directions (faultline's addition to Toxiproxy's two streams).
    case both

    /// Whether bytes going `way` are affected.
    func covers(_ way: Pipe.Direction) -> Bool {
        self == .both || rawValue == way.rawValue
    }
}

/// One configured fault: a kind, its parameter values and which connections it targets.
/// It maps one-to-one onto a Toxiproxy toxic (`name`, `type`, `stream`, `toxicity`,
/// `attributes`), see `Toxic`.
public struct Fault: Sendable {
    /// Unique within its proxy; defaults to `KIND_DIRECTION` as Toxiproxy names toxics, or to
    /// `KIND` for a kind whose direction changes nothing (`tcp.down`).
    public var name: String
    /// What the fault does.
    public let kind: FaultKind
    /// Which bytes it acts on, where that means something for the kind.
    public var direction: FaultDirection
    /// Chance that a connection is affected, decided per connection from the seed.
    public var probability: Double
    /// Only the first N connections the fault sees.
    public var first: Int?
    /// Only every Nth connection the fault sees (the Nth, 2Nth, …).
    public var every: Int?
    /// Kind-specific values, one per declared parameter (defaults filled in).
    public let values: [String: ParameterValue]

    /// The parameters every kind takes, besides its own.
    public static let commonParameters: [FaultParameter] = [nameParameter, directionParameter,
                                                            probabilityParameter, firstParameter, everyParameter]
    static let nameParameter = FaultParameter("name", .text, default: nil, "unique within the proxy (default KIND_DIRECTION, or KIND for kinds without a direction)")
    static let directionParameter = FaultParameter(
        "direction", .choice(FaultDirection.allCases.map(\.rawValue)), default: nil,
        "upstream (client→server), downstream or both; the default depends on the kind")
    static let probabilityParameter = FaultParameter(
        "probability", .probability, default: .probability(1), "chance a connection (redis.*/http.* message faults: a matching command or request) is affected, decided from the seed")
    static let firstParameter = FaultParameter("first", .count, default: nil, "only the first N connections (redis.*/http.* message faults: matching commands or requests) the fault sees")
    static let everyParameter = FaultParameter("every", .count, default: nil, "only every Nth connection (redis.*/http.* message faults: matching command or request) the fault sees")

    /// Builds a fault from `key=value` texts; every error names its parameter.
    public init(kind: FaultKind, parameters: [(name: String, value: String)]) throws {
        var values: [String: ParameterValue] = [:]
        var name: String?
        var direction = kind.defaultDirection
        var probability = 1.0
        var first: Int?
        var every: Int?
        for (key, text) in parameters {
            switch key {
            case "name":
                name = try Self.text(Self.nameParameter.parse(text))
            case "direction":
                direction = FaultDirection(rawValue: try Self.text(Self.directionParameter.parse(text))) ?? direction
            case "probability":
                if case .probability(let value) = try Self.probabilityParameter.parse(text) { probability = value }
            case "first":
                first = try Self.positive(Self.firstParameter, text)
            case "every":
                every = try Self.positive(Self.everyParameter, text)
            default:
                guard let declared = kind.parameters.first(where: { $0.name == key }) else {
                    throw ParameterError(parameter: key, message: kind.unknownParameterMessage(key))
                }
                values[key] = try declared.parse(text)
            }
        }
        // Optional parameters (texts and lists without a default among them) may stay unset;
        // a kind that needs one checks it.
        for parameter in kind.parameters where values[parameter.name] == nil && !parameter.optional {
            guard let value = parameter.defaultValue else {
                throw ParameterError(parameter: parameter.name, message: "is required by \(kind.name)")
            }
            values[parameter.name] = value
        }
        self.kind = kind
        self.name = name ?? (kind.directional ? "\(kind.name)_\(direction.rawValue)" : kind.name)
        self.direction = direction
        self.probability = probability
        self.first = first
        self.every = every
        self.values = values
        try kind.check(self)
    }

    /// Parses a `--fault` value against the registry.
    public init(parsing spec: FaultSpec) throws {
        guard let kind = FaultRegistry.kind(named: spec.kind) else {
            throw FaultSpecError(text: spec.kind, reason: FaultRegistry.unknownKindMessage(spec.kind))
        }
        do {
            try self.init(kind: kind, parameters: spec.parameters.map { ($0.name, $0.value) })
        } catch let error as ParameterError {
            throw FaultSpecError(text: spec.kind, reason: error.description)
        }
    }

    private static func text(_ value: ParameterValue) -> String { value.description }

    /// `first` and `every`: 0 would pick no connection at all, so they start at 1.
    private static func positive(_ parameter: FaultParameter, _ text: String) throws -> Int {
        do {
            return Int(try NumberText.read(text, as: positiveCount))
        } catch {
            throw ParameterError(parameter: parameter.name, message: error.description)
        }
    }

    private static let positiveCount = Quantity(expected: "a whole number ≥ 1", range: 1...UInt64(Int32.max),
                                                rangeText: "it goes from 1 to \(Int32.max)")

    /// Whether the fault targets some connections and not others.
    var selects: Bool { probability < 1 || first != nil || every != nil }

    func duration(_ key: String) -> Duration {
        if case .duration(let value)? = values[key] { return value }
        return .zero
    }

    func count(_ key: String) -> Int {
        if case .count(let value)? = values[key] { return value }
        return 0
    }

    /// Whether the parameter was given (or has a default).
    func has(_ key: String) -> Bool { values[key] != nil }

    func word(_ key: String) -> String {
        if case .word(let value)? = values[key] { return value }
        return ""
    }
}
