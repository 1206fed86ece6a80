/// The type of one fault parameter, which decides how its text is read and shown.
public enum ParameterType: Sendable, Equatable {
    /// `250ms`, `2s`; a bare number is taken in `bareUnit` (Toxiproxy's fields are numbers).
    case duration(bareUnit: DurationUnit)
    /// A whole number ≥ 0.
    case count
    /// A size in bytes: `1024`, `64KB`, `1MB`.
    case bytes
    /// Bytes per second: `100KB`, `1MB`; a bare number is KB/s (Toxiproxy's unit).
    case rate
    /// A probability from 0 to 1.
    case probability
    /// One of a fixed set of words.
    case choice([String])
    /// Free text.
    case text

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
        }
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

    /// Declares a parameter.
    public init(_ name: String, _ type: ParameterType, default defaultValue: ParameterValue?, _ help: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.help = help
    }

    /// Reads `text` as this parameter's type; the error names the parameter.
    public func parse(_ text: String) throws -> ParameterValue {
        switch type {
        case .duration(let unit):
            if let number = Double(text), number >= 0, number.isFinite {
                return .duration(.microseconds(Int64(number * (unit == .milliseconds ? 1000 : 1))))
            }
            do { return .duration(try DurationText.parse(text)) } catch { throw invalid(text, "a duration such as 250ms or 2s") }
        case .count:
            guard let value = Int(text), value >= 0 else { throw invalid(text, "a whole number ≥ 0") }
            return .count(value)
        case .bytes:
            guard let value = ByteSize.parse(text) else { throw invalid(text, "a size such as 1024, 64KB or 1MB") }
            return .count(value)
        case .rate:
            let perSecond = Int(text).map { $0 * 1024 } ?? ByteSize.parse(text)
            guard let value = perSecond, value > 0 else { throw invalid(text, "a rate such as 100 (KB/s), 500KB or 1MB") }
            return .count(value)
        case .probability:
            guard let value = Double(text), value >= 0, value <= 1 else { throw invalid(text, "a number from 0 to 1") }
            return .probability(value)
        case .choice(let words):
            guard words.contains(text) else { throw invalid(text, "one of \(words.joined(separator: ", "))") }
            return .word(text)
        case .text:
            guard !text.isEmpty else { throw invalid(text, "a non-empty text") }
            return .word(text)
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

/// Byte sizes as users write them: `1024`, `64KB`, `1MB` (powers of 1024).
enum ByteSize {
    static func parse(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KB", 1024), ("MB", 1024 * 1024), ("GB", 1024 * 1024 * 1024), ("B", 1)]
        for (suffix, scale) in units where text.uppercased().hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return value * scale
        }
        guard let value = Int(text), value >= 0 else { return nil }
        return value
    }
}
