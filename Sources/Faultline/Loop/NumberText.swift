/// A kind of number users write (a duration, a size, a count…): its unit suffixes, whether it
/// takes a fraction, and the range it must fall in. `NumberText.read` reads text against it.
public struct Quantity: Sendable {
    /// One unit suffix and how many base units it stands for.
    public struct Unit: Sendable {
        /// As written after the number: `ms`, `KB`.
        public let suffix: String
        /// Base units in one of it: `ms` is 1000 (µs), `KB` is 1024 (bytes).
        public let scale: UInt64

        /// A unit.
        public init(_ suffix: String, _ scale: UInt64) {
            self.suffix = suffix
            self.scale = scale
        }
    }

    /// What a well-formed value looks like, for "'x' is not …": `a duration such as 250ms or 2s`.
    public let expected: String
    /// The units, matched longest suffix first (`ms` before `s`).
    public let units: [Unit]
    /// Base units in a number written without a unit; nil when a unit is required.
    public let bareScale: UInt64?
    /// Whether `1.5s` is allowed; the result is rounded to a whole base unit.
    public let fractions: Bool
    /// Whether units are matched ignoring case (`64kb`).
    public let caseInsensitive: Bool
    /// The allowed values, in base units.
    public let range: ClosedRange<UInt64>
    /// The range as messages state it: `durations go from 0 to 8760h (1 year)`.
    public let rangeText: String

    /// Declares a kind of number.
    public init(expected: String, units: [Unit] = [], bareScale: UInt64? = 1, fractions: Bool = false,
                caseInsensitive: Bool = false, range: ClosedRange<UInt64>, rangeText: String) {
        self.expected = expected
        self.units = units.sorted { $0.suffix.count > $1.suffix.count }
        self.bareScale = bareScale
        self.fractions = fractions
        self.caseInsensitive = caseInsensitive
        self.range = range
        self.rangeText = rangeText
    }

    /// A whole number without unit in `range`, e.g. a port or a seed.
    public static func whole(_ range: ClosedRange<UInt64>, expected: String, noun: String) -> Quantity {
        Quantity(expected: expected, range: range, rangeText: "\(noun) go from \(range.lowerBound) to \(range.upperBound)")
    }
}

/// A number that is not written as its kind's numbers are, or falls outside their range. The
/// message names the value as written and, when it is out of range, the range.
public struct NumberError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The value as written.
    public let text: String
    /// True when the text is a number, just too big or negative; false when it is not one at all.
    public let outOfRange: Bool
    /// The rest of the message: `is not a duration such as 250ms or 2s`, `is out of range: …`.
    public let reason: String

    /// `'99999999999h' is out of range: durations go from 0 to 8760h (1 year)`.
    public var description: String { "'\(text)' \(reason)" }
}

/// Numbers as users write them in flags, scenario files and fault parameters: decimal digits,
/// maybe a fraction, maybe a unit. Every step is overflow-checked against a stated range, so a
/// huge value is an error that names it, never a trap, and a negative one says the range.
///
/// Only plain decimals count: `0x10`, `+5`, `1e3`, `inf`, `nan` and the empty text are not
/// numbers here, although Swift's `Int(_:)` or `Double(_:)` take some of them.
public enum NumberText {
    /// Reads `text` as a `quantity`, in its base units.
    public static func read(_ text: String, as quantity: Quantity) throws(NumberError) -> UInt64 {
        let negative = text.hasPrefix("-")
        let body = negative ? text.dropFirst() : Substring(text)
        guard let (digits, scale) = split(body, quantity), let decimal = DecimalDigits(digits),
              quantity.fractions || !decimal.hasFraction else {
            throw NumberError(text: text, outOfRange: false, reason: "is not \(quantity.expected)")
        }
        // `-0` is refused too: a sign means the user expects negative numbers to mean something.
        guard !negative, let value = decimal.scaled(by: scale), quantity.range.contains(value) else {
            throw NumberError(text: text, outOfRange: true, reason: "is out of range: \(quantity.rangeText)")
        }
        return value
    }

    /// Reads a probability from `0` to `1` such as `0.25`.
    public static func probability(_ text: String, expected: String) throws(NumberError) -> Double {
        let negative = text.hasPrefix("-")
        guard let decimal = DecimalDigits(negative ? text.dropFirst() : Substring(text)) else {
            throw NumberError(text: text, outOfRange: false, reason: "is not \(expected)")
        }
        guard !negative, decimal.whole == 0 || (decimal.whole == 1 && decimal.fraction == 0) else {
            throw NumberError(text: text, outOfRange: true, reason: "is out of range: probabilities go from 0 to 1")
        }
        return decimal.double
    }

    /// Reads a number ≥ 0 that may have a fraction, up to `maximum` (a rate such as `2.5`).
    public static func decimal(_ text: String, maximum: UInt64, expected: String, noun: String) throws(NumberError) -> Double {
        let negative = text.hasPrefix("-")
        guard let decimal = DecimalDigits(negative ? text.dropFirst() : Substring(text)) else {
            throw NumberError(text: text, outOfRange: false, reason: "is not \(expected)")
        }
        guard !negative, let whole = decimal.whole, whole < maximum || (whole == maximum && decimal.fraction == 0) else {
            throw NumberError(text: text, outOfRange: true, reason: "is out of range: \(noun) go from 0 to \(maximum)")
        }
        return decimal.double
    }

    /// Whether `text` is a plain decimal such as `5` or `1.5` (for hints like "add a unit").
    public static func isDecimal(_ text: String) -> Bool { DecimalDigits(Substring(text)) != nil }

    /// The number part and the scale of its unit, or nil when no unit fits and a bare number
    /// is not allowed.
    private static func split(_ text: Substring, _ quantity: Quantity) -> (Substring, UInt64)? {
        for unit in quantity.units where hasSuffix(text, unit.suffix, ignoringCase: quantity.caseInsensitive) {
            return (Substring(text.utf8.dropLast(unit.suffix.utf8.count)), unit.scale)
        }
        return quantity.bareScale.map { (text, $0) }
    }

    /// Units are ASCII letters, so comparing bytes is enough (and cheap: a file may hold
    /// thousands of values).
    private static func hasSuffix(_ text: Substring, _ suffix: String, ignoringCase: Bool) -> Bool {
        var textIndex = text.utf8.endIndex
        var suffixIndex = suffix.utf8.endIndex
        while suffixIndex > suffix.utf8.startIndex {
            guard textIndex > text.utf8.startIndex else { return false }
            text.utf8.formIndex(before: &textIndex)
            suffix.utf8.formIndex(before: &suffixIndex)
            let (a, b) = (text.utf8[textIndex], suffix.utf8[suffixIndex])
            // Setting bit 5 lowercases an ASCII letter.
            guard a == b || (ignoringCase && a | 0x20 == b | 0x20) else { return false }
        }
        return true
    }
}

/// `DIGITS[.DIGITS]` as written, held exactly: the whole part and up to 18 fraction digits
/// (beyond them a digit is worth less than 10⁻¹⁸ of a unit and is dropped).
private struct DecimalDigits {
    /// Nil when the whole part is beyond `UInt64`: out of every range.
    let whole: UInt64?
    /// The kept fraction digits as an integer: `.25` is 25 over 100.
    let fraction: UInt64
    /// 10 to the number of kept fraction digits.
    let denominator: UInt64
    /// Whether a `.` with digits was written (even `.0`).
    let hasFraction: Bool

    private static let maxFractionDigits = 18

    init?(_ text: Substring) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholeText = parts.first, !wholeText.isEmpty, wholeText.utf8.allSatisfy(Self.isDigit) else { return nil }
        var whole: UInt64? = 0
        for digit in wholeText.utf8 {
            whole = whole.flatMap { Self.appending(digit, to: $0) }
        }
        var fraction: UInt64 = 0
        var denominator: UInt64 = 1
        if parts.count == 2 {
            let fractionText = parts[1]
            guard !fractionText.isEmpty, fractionText.utf8.allSatisfy(Self.isDigit) else { return nil }
            for digit in fractionText.utf8.prefix(Self.maxFractionDigits) {
                fraction = fraction * 10 + UInt64(digit - UInt8(ascii: "0"))
                denominator *= 10
            }
        }
        self.whole = whole
        self.fraction = fraction
        self.denominator = denominator
        hasFraction = parts.count == 2
    }

    /// The value times `scale`, rounded to the nearest whole; nil on overflow.
    func scaled(by scale: UInt64) -> UInt64? {
        guard let whole else { return nil }
        let (wholePart, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        // fraction < denominator, so fraction × scale / denominator < scale: the quotient fits.
        let product = fraction.multipliedFullWidth(by: scale)
        let (quotient, remainder) = denominator.dividingFullWidth(product)
        let fractionPart = quotient + (remainder >= denominator - remainder ? 1 : 0)
        let (sum, sumOverflow) = wholePart.addingReportingOverflow(fractionPart)
        return sumOverflow ? nil : sum
    }

    /// For values already checked to be in a small range.
    var double: Double { Double(whole ?? 0) + Double(fraction) / Double(denominator) }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func appending(_ digit: UInt8, to value: UInt64) -> UInt64? {
        let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
        let (sum, carry) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
        return overflow || carry ? nil : sum
    }
}

extension Quantity {
    /// A seed for probabilistic decisions: any 64-bit value.
    public static let seed = Quantity.whole(0...UInt64.max, expected: "a whole number ≥ 0", noun: "seeds")

    /// A TCP port; 0 asks the kernel for a free one, which only a listening address can use.
    public static let port = Quantity.whole(0...UInt64(UInt16.max), expected: "a port number", noun: "ports")
}
