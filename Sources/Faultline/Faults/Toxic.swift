/// A fault as Toxiproxy's API writes a toxic:
/// `{"name":…, "type":"latency", "stream":"downstream", "toxicity":1.0, "attributes":{"latency":100,"jitter":0}}`.
///
/// Toxiproxy's types and attribute names map onto faultline's kinds and parameters (see each
/// kind's `ToxiproxyName`), with Toxiproxy's units: milliseconds, KB/s, bytes, and µs for the
/// slicer's delay. faultline's own kinds use their names as `type` and their parameters as
/// attributes; `first` and `every` travel as attributes too.
public struct Toxic: Codable, Sendable, Equatable {
    public var name: String?
    public var type: String
    public var stream: String?
    public var toxicity: Double?
    public var attributes: [String: AttributeValue]?

    /// An attribute: Toxiproxy sends numbers; faultline's own kinds may send text (`"2s"`).
    public enum AttributeValue: Codable, Sendable, Equatable, CustomStringConvertible {
        case number(Double)
        case text(String)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .text(try container.decode(String.self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .number(let value): try container.encode(value)
            case .text(let value): try container.encode(value)
            }
        }

        /// Plain decimals, whole numbers without `.0` and no exponent, as `--fault` reads them.
        public var description: String {
            switch self {
            case .number(let value): DecimalText.plain(String(value))
            case .text(let value): value
            }
        }
    }

    /// Creates a toxic from its fields.
    public init(name: String? = nil, type: String, stream: String? = nil, toxicity: Double? = nil,
                attributes: [String: AttributeValue]? = nil) {
        self.name = name
        self.type = type
        self.stream = stream
        self.toxicity = toxicity
        self.attributes = attributes
    }
}

extension Fault {
    /// Reads a toxic; errors name the field (`type`, `stream`, `toxicity`, `attributes.latency`).
    public init(toxic: Toxic) throws {
        guard let kind = FaultRegistry.kind(toxiproxyType: toxic.type) else {
            throw ParameterError(parameter: "type", message: "unknown toxic type '\(toxic.type)'")
        }
        var parameters: [(name: String, value: String)] = []
        if let name = toxic.name { parameters.append(("name", name)) }
        // Toxiproxy's default stream is downstream, whatever faultline's default for the kind.
        if let stream = toxic.stream ?? (kind.toxiproxy != nil ? "downstream" : nil) {
            parameters.append(("direction", stream))
        }
        if let toxicity = toxic.toxicity { parameters.append(("probability", Toxic.AttributeValue.number(toxicity).description)) }
        for (key, value) in (toxic.attributes ?? [:]).sorted(by: { $0.key < $1.key }) {
            parameters.append((kind.toxiproxy?.parameter(forAttribute: key) ?? key, value.description))
        }
        do {
            try self.init(kind: kind, parameters: parameters)
        } catch let error as ParameterError {
            throw ParameterError(parameter: Self.field(for: error.parameter, kind: kind), message: error.message)
        }
    }

    /// The toxic Toxiproxy would show for this fault.
    public var toxic: Toxic {
        var attributes: [String: Toxic.AttributeValue] = [:]
        let renames = kind.toxiproxy.map { Dictionary(uniqueKeysWithValues: $0.attributes.map { ($0.value, $0.key) }) } ?? [:]
        for parameter in kind.parameters {
            guard let value = values[parameter.name] else { continue }
            attributes[renames[parameter.name] ?? parameter.name] = Self.attribute(value, type: parameter.type)
        }
        if let first { attributes["first"] = .number(Double(first)) }
        if let every { attributes["every"] = .number(Double(every)) }
        return Toxic(name: name, type: kind.toxiproxy?.type ?? kind.name, stream: direction.rawValue,
                     toxicity: probability, attributes: attributes)
    }

    private static func attribute(_ value: ParameterValue, type: ParameterType) -> Toxic.AttributeValue {
        switch (value, type) {
        case (.duration(let duration), .duration(let unit)):
            let micros = Double(duration.microseconds)
            return .number(unit == .milliseconds ? micros / 1000 : micros)
        case (.count(let bytesPerSecond), .rate):
            return .number(Double(bytesPerSecond) / 1024)
        case (.count(let count), _):
            return .number(Double(count))
        case (.probability(let probability), _):
            return .number(probability)
        default:
            return .text(value.description)
        }
    }

    private static func field(for parameter: String, kind: FaultKind) -> String {
        switch parameter {
        case "name": return "name"
        case "direction": return "stream"
        case "probability": return "toxicity"
        default:
            let toxiproxyName = kind.toxiproxy?.attribute(forParameter: parameter)
            return "attributes.\(toxiproxyName ?? parameter)"
        }
    }
}
