/// A signed decimal integer read one byte at a time, by the rules of Redis's `string2ll` (which
/// both the server's request parser and hiredis apply): an optional `-`, then digits without a
/// leading zero (`0` alone is fine, `-0`, `007`, `+5` and the empty text are not), within `Int64`.
///
/// Bytes may arrive split anywhere, so nothing is kept but the running value: a 64 KB line of
/// digits costs no memory, and every step is overflow-checked, so garbage is `nil`, never a trap.
struct RESPInteger {
    private var magnitude: UInt64 = 0
    private var negative = false
    private var valid = true
    /// Bytes fed so far.
    private var length = 0
    /// The first digit was `0`: no byte may follow it.
    private var zero = false

    /// Starts a new number.
    mutating func reset() { self = RESPInteger() }

    /// Takes the next byte of the number's text.
    mutating func feed(_ byte: UInt8) {
        guard valid else { return }
        length += 1
        if length == 1 && byte == UInt8(ascii: "-") {
            negative = true
            return
        }
        // Wrapping: a byte below "0" becomes ≥ 10 and is refused like any other non-digit.
        let digit = byte &- UInt8(ascii: "0")
        guard digit < 10, !zero else {
            valid = false
            return
        }
        if magnitude == 0 && digit == 0 {
            // The first digit, and a zero: `0` is a number, `-0` is not (string2ll says so).
            zero = true
            valid = !negative
            return
        }
        let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
        let (sum, carry) = times10.addingReportingOverflow(UInt64(digit))
        guard !overflow, !carry else {
            valid = false
            return
        }
        magnitude = sum
    }

    /// The number, or nil when the bytes fed are not one (or none were fed).
    var value: Int64? {
        guard valid, magnitude > 0 || zero else { return nil }
        if negative {
            // -2⁶³ is the one negative value whose magnitude is no Int64.
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}
