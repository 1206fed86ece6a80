/// Numbers and durations as verdicts print them: short, stable, no locale.
enum Figures {
    /// `10`, `2.5`, `0.333`: whole numbers without a decimal point, others to 3 places.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return String(value) }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        let thousandths = (value * 1000).rounded() / 1000
        return String(thousandths)
    }

    /// One decimal place: `4.0`, `12.5` (rates per second).
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// A measured duration: `250ms` under a second, else seconds to 2 places with at most one
    /// trailing zero dropped: `2.31s`, `2.5s`, `30.0s`. The 10 ms resolution is finer than
    /// any behaviour an expectation judges.
    static func seconds(_ duration: Duration) -> String {
        let (whole, atto) = duration.components
        // Round first, so 999.6 ms reads 1.0s rather than 1000ms.
        let milliseconds = (Double(whole) * 1000 + Double(atto) / 1e15).rounded()
        if abs(milliseconds) < 1000 { return "\(Int64(milliseconds))ms" }
        let centis = Int64((milliseconds / 10).rounded())
        let fraction = abs(centis % 100)
        let decimals = fraction % 10 == 0 ? "\(fraction / 10)" : (fraction < 10 ? "0\(fraction)" : "\(fraction)")
        return "\(centis / 100).\(decimals)s"
    }

    /// A duration as the user wrote it: `10s`, `250ms`.
    static func limit(_ duration: Duration) -> String { DurationText.format(duration) }

    /// `1 failure`, `5 failures`.
    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
}
