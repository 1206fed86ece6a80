/// Durations as users write them: `250ms`, `2s`, `1.5s`, `1m`, `100us`, up to a year.
public enum DurationText {
    /// The longest duration anything takes: 8760h (a year). Longer ones are typing mistakes,
    /// and the limit keeps every sum of durations far from overflowing.
    public static let maximum = Duration.seconds(8760 * 3600)

    /// Parses a number followed by `us`, `ms`, `s`, `m` or `h`; the error names the text and,
    /// for a value beyond a year or below 0, the range.
    public static func parse(_ text: String) throws(NumberError) -> Duration {
        try parse(text, bareUnit: nil)
    }

    /// Parses like `parse(_:)`, and also a bare number taken in `bareUnit` (`ms`, `us`), as
    /// Toxiproxy's fields are written.
    public static func parse(_ text: String, bareUnit: String?) throws(NumberError) -> Duration {
        let quantity = switch bareUnit {
        case "ms": bareMilliseconds
        case "us": bareMicroseconds
        default: withUnit
        }
        // The range ends at a year, far inside Int64.
        return .microseconds(Int64(try NumberText.read(text, as: quantity)))
    }

    /// Formats like the input syntax, for messages: `250ms`, `2s`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, atto) = duration.components
        let ms = Double(seconds) * 1000 + Double(atto) / 1e15
        return ms < 1000 ? "\(ms.formatted)ms" : "\((ms / 1000).formatted)s"
    }

    private static let units: [Quantity.Unit] = [
        .init("us", 1), .init("ms", 1000), .init("s", 1_000_000), .init("m", 60_000_000), .init("h", 3_600_000_000),
    ]
    private static let withUnit = quantity(bareScale: nil)
    private static let bareMilliseconds = quantity(bareScale: 1000)
    private static let bareMicroseconds = quantity(bareScale: 1)

    private static func quantity(bareScale: UInt64?) -> Quantity {
        Quantity(expected: "a duration such as 250ms or 2s", units: units, bareScale: bareScale, fractions: true,
                 range: 0...UInt64(maximum.components.seconds) * 1_000_000, rangeText: "durations go from 0 to 8760h (1 year)")
    }
}

extension Double {
    fileprivate var formatted: String {
        self == rounded() ? String(Int64(self)) : String(self)
    }
}
