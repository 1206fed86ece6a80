/// Durations as users write them: `250ms`, `2s`, `1.5s`, `1m`, `100us`.
public enum DurationText {
    /// Parses a number followed by `us`, `ms`, `s`, `m` or `h`.
    public static func parse(_ text: String) throws -> Duration {
        let units: [(suffix: String, scale: Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            if let value = Double(number), value >= 0, value.isFinite, !number.hasPrefix("+") {
                return .microseconds(Int64((value * unit.scale * 1e6).rounded()))
            }
        }
        throw DurationError(text: text)
    }

    /// Formats like the input syntax, for messages: `250ms`, `2s`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, atto) = duration.components
        let ms = Double(seconds) * 1000 + Double(atto) / 1e15
        return ms < 1000 ? "\(ms.formatted)ms" : "\((ms / 1000).formatted)s"
    }
}

/// A duration that is not `NUMBER(us|ms|s|m|h)`.
public struct DurationError: Error, CustomStringConvertible {
    /// The text as written.
    public let text: String
    public var description: String { "invalid duration '\(text)': expected a number with us, ms, s, m or h (e.g. 250ms, 2s)" }
}

extension Double {
    fileprivate var formatted: String {
        self == rounded() ? String(Int64(self)) : String(self)
    }
}
