/// The type of one fault parameter, which decides how its text is read and shown.
public enum ParameterType: Sendable, Equatable {
    /// `250ms`, `2s`; a bare number is taken in `bareUnit` (Toxiproxy's fields are numbers).
    case duration(bareUnit: DurationUnit)
    /// A whole number from 0 to 2147483647 (`Quantity.count`).
    case count
    /// A size in bytes: `1024`, `64KB`, `1MB`, up to 1TB (`Quantity.bytes`).
    case bytes
    /// Bytes per second: `100KB`, `1MB`; a bare number is KB/s (Toxiproxy's unit); up to 100GB/s.
    case rate
    /// A probability from 0 to 1.
    case probability
    /// One of a fixed set of words.
    case choice([String])
    /// Free text.
    case text
    /// Words: a YAML list (`[GET, SET]`), or one text with the words separated by `|`, `,` or
    /// spaces (`GET|SET` in `--fault`). Held as one `.word`, the words joined by spaces.
    case list
    /// Named values: a YAML mapping (`{X-Api-Version: "2"}`), or `Name:value|Name:value` in
    /// `--fault`. Held as one `.word`, one `Name: value` per line.
    case fields

    /// How durations written as bare numbers are scaled.
    public enum DurationUnit: String, Sendable { case microseconds = "us", milliseconds = "ms" }

    /// A short name for listings: `duration`, `count`, `fin|rst`.
    public var name: String {
        switch self {
        case .duration: "duration"
        case .count: "count"
        case .bytes: "bytes"
        case .rate: "bytes/s"
        case .probability: "0..1"
        case .choice(let words): words.joined(separator: "|")
        case .text: "text"
        case .list: "list"
        case .fields: "name: value, …"
        }
    }
}

extension ParameterType {
    /// The words of a `.list` value's text.
    static func words(in text: String) -> [String] {
        text.split { $0 == "|" || $0 == "," || $0 == " " || $0 == "\t" }.map(String.init)
    }
}

/// A parsed parameter value.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case duration(Duration)
    case count(Int)
    case probability(Double)
    case word(String)

    public var description: String {
        switch self {
        case .duration(let value): DurationText.format(value)
        case .count(let value): String(value)
        case .probability(let value): String(value)
        case .word(let value): value
        }
    }
}

/// One parameter a fault kind takes: name, type, default and what it means.
public struct FaultParameter: Sendable {
    /// The key in `--fault`, YAML and the API's attributes.
    public let name: String
    /// How the value is read.
    public let type: ParameterType
    /// Used when the parameter is not given; nil means the parameter is required.
    public let defaultValue: ParameterValue?
    /// One line for `faultline faults`.
    public let help: String
    /// Without a default, the parameter may still be left out (its absence means something).
    public let optional: Bool

    /// Declares a parameter.
    public init(_ name: String, _ type: ParameterType, default defaultValue: ParameterValue?, optional: Bool = false,
                _ help: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.optional = optional || defaultValue == nil && (type == .text || type == .list || type == .fields)
        self.help = help
    }

    /// Reads `text` as this parameter's type; the error names the parameter and, for a number
    /// out of range, the range.
    public func parse(_ text: String) throws -> ParameterValue {
        do {
            switch type {
            case .duration(let unit):
                return .duration(try DurationText.parse(text, bareUnit: unit.rawValue))
            case .count:
                return .count(Int(try NumberText.read(text, as: .count)))
            case .bytes:
                return .count(Int(try NumberText.read(text, as: .bytes)))
            case .rate:
                return .count(Int(try NumberText.read(text, as: .rate)))
            case .probability:
                return .probability(try NumberText.probability(text, expected: "a number from 0 to 1"))
            case .choice(let words):
                guard words.contains(text) else {
                    let close = Suggestion.closest(to: text, in: words).map { " (did you mean '\($0)'?)" } ?? ""
                    throw invalid(text, "one of \(words.joined(separator: ", "))\(close)")
                }
                return .word(text)
            case .text:
                guard !text.isEmpty else { throw invalid(text, "a non-empty text") }
                return .word(text)
            case .fields:
                return .word(try FieldsText.read(text))
            case .list:
                let words = ParameterType.words(in: text)
                guard !words.isEmpty else { throw invalid(text, "a list of words such as GET|SET") }
                return .word(words.joined(separator: " "))
            }
        } catch let error as NumberError {
            throw ParameterError(parameter: name, message: error.description)
        } catch let error as FieldsText.Problem {
            throw ParameterError(parameter: name, message: error.message)
        }
    }

    private func invalid(_ text: String, _ expected: String) -> ParameterError {
        ParameterError(parameter: name, message: "'\(text)' is not \(expected)")
    }
}

/// A parameter that is unknown, missing or ill-typed; `parameter` names it.
public struct ParameterError: Error, CustomStringConvertible {
    /// The parameter's name.
    public let parameter: String
    /// What is wrong with it.
    public let message: String
    public var description: String { "parameter '\(parameter)': \(message)" }
}

extension Quantity {
    /// A whole number of things (connections, requests): 0 to 2147483647.
    public static let count = Quantity(expected: "a whole number ≥ 0", range: 0...UInt64(Int32.max),
                                       rangeText: "counts go from 0 to \(Int32.max)")

    /// Byte sizes as users write them: `1024`, `64KB`, `1MB` (powers of 1024), up to 1TB.
    public static let bytes = Quantity(expected: "a size such as 1024, 64KB or 1MB", units: byteUnits, caseInsensitive: true,
                                       range: 0...terabyte, rangeText: "sizes go from 0 to 1TB")

    /// Bytes per second: `500KB`, `2MB`; a bare number is KB/s (Toxiproxy's unit). Up to 100GB/s.
    public static let rate = Quantity(expected: "a rate such as 100 (KB/s), 500KB or 1MB", units: byteUnits, bareScale: 1024,
                                      caseInsensitive: true, range: 1...100 * gigabyte,
                                      rangeText: "rates go from 1B to 100GB per second")

    private static let gigabyte: UInt64 = 1 << 30
    private static let terabyte: UInt64 = 1 << 40
    private static let byteUnits: [Unit] = [.init("B", 1), .init("KB", 1 << 10), .init("MB", 1 << 20),
                                            .init("GB", gigabyte), .init("TB", terabyte)]
}
