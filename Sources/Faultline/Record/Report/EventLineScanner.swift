/// Reads one line of `events.jsonl` without building a JSON tree: a report streams millions of
/// them, and `JSONParser` (ordered objects, a `String` per key, a copy of the line) costs
/// several times what the summary itself does. The scanner accepts what `EventLog` writes —
/// one flat object of strings, numbers, booleans and null — and skips values it does not know
/// (a nested object or array from a later writer is stepped over, not misread).
///
/// A line that is not such an object (cut short, garbage, a lone surrogate in a `\u` escape)
/// makes `scan` return false; the caller counts it and moves on. Nothing here traps on input.
struct EventLineScanner {
    /// One member's value, as a range of the line's bytes (strings: between the quotes,
    /// still escaped; `escaped` tells whether they need decoding).
    struct Value {
        enum Shape { case string, number, literal, nested }
        var shape: Shape
        var start: Int
        var end: Int
        var escaped: Bool
    }

    /// Walks the object on `line`, calling `member` with each key's bytes and its value.
    /// Returns false when the line is not one whole JSON object.
    static func scan(_ line: UnsafeBufferPointer<UInt8>,
                     _ member: (_ key: UnsafeBufferPointer<UInt8>, _ value: Value) -> Void) -> Bool {
        var at = 0
        let count = line.count
        func skipSpace() { while at < count, line[at] == 0x20 || line[at] == 0x09 || line[at] == 0x0D { at += 1 } }
        skipSpace()
        guard at < count, line[at] == UInt8(ascii: "{") else { return false }
        at += 1
        skipSpace()
        if at < count, line[at] == UInt8(ascii: "}") { at += 1; skipSpace(); return at == count }
        while true {
            skipSpace()
            guard at < count, line[at] == UInt8(ascii: "\""), let key = string(line, &at) else { return false }
            skipSpace()
            guard at < count, line[at] == UInt8(ascii: ":") else { return false }
            at += 1
            skipSpace()
            guard let value = value(line, &at) else { return false }
            member(UnsafeBufferPointer(rebasing: line[key.start..<key.end]), value)
            skipSpace()
            guard at < count else { return false }
            if line[at] == UInt8(ascii: ",") { at += 1; continue }
            guard line[at] == UInt8(ascii: "}") else { return false }
            at += 1
            skipSpace()
            return at == count
        }
    }

    /// A string starting at the quote under `at`; `at` ends after its closing quote.
    private static func string(_ line: UnsafeBufferPointer<UInt8>, _ at: inout Int) -> Value? {
        let start = at + 1
        var index = start
        var escaped = false
        while index < line.count {
            let byte = line[index]
            if byte == UInt8(ascii: "\"") {
                at = index + 1
                return Value(shape: .string, start: start, end: index, escaped: escaped)
            }
            if byte == UInt8(ascii: "\\") { escaped = true; index += 2; continue }
            if byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    private static func value(_ line: UnsafeBufferPointer<UInt8>, _ at: inout Int) -> Value? {
        guard at < line.count else { return nil }
        let first = line[at]
        switch first {
        case UInt8(ascii: "\""):
            return string(line, &at)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = at
            at += 1
            while at < line.count, Self.isNumberByte(line[at]) { at += 1 }
            return Value(shape: .number, start: start, end: at, escaped: false)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let start = at
            while at < line.count, line[at] >= UInt8(ascii: "a"), line[at] <= UInt8(ascii: "z") { at += 1 }
            let word = UnsafeBufferPointer(rebasing: line[start..<at])
            guard word.elementsEqual("true".utf8) || word.elementsEqual("false".utf8) || word.elementsEqual("null".utf8)
            else { return nil }
            return Value(shape: .literal, start: start, end: at, escaped: false)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            // A member a later schema may add: stepped over, brackets balanced, strings skipped.
            let start = at
            var depth = 0
            while at < line.count {
                let byte = line[at]
                if byte == UInt8(ascii: "\"") {
                    guard string(line, &at) != nil else { return nil }
                    continue
                }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { at += 1; return Value(shape: .nested, start: start, end: at, escaped: false) }
                }
                at += 1
            }
            return nil
        default:
            return nil
        }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
    }

    // MARK: Values

    /// A string value's text, escapes decoded; nil when it is not a string or an escape is bad.
    static func text(_ line: UnsafeBufferPointer<UInt8>, _ value: Value) -> String? {
        guard value.shape == .string else { return nil }
        let raw = UnsafeBufferPointer(rebasing: line[value.start..<value.end])
        guard value.escaped else { return String(decoding: raw, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var bytes: [UInt8] = []
        var index = 0
        func flush() {
            if !bytes.isEmpty { scalars.append(contentsOf: String(decoding: bytes, as: UTF8.self).unicodeScalars); bytes.removeAll() }
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else { bytes.append(byte); index += 1; continue }
            guard index + 1 < raw.count else { return nil }
            let code = raw[index + 1]
            index += 2
            switch code {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(code)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                guard var unit = hex4(raw, index) else { return nil }
                index += 4
                if unit >= 0xD800 && unit < 0xDC00 {
                    // A high surrogate must be followed by `\u` and a low one.
                    guard index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u"),
                          let low = hex4(raw, index + 2), low >= 0xDC00, low < 0xE000 else { return nil }
                    index += 6
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else if unit >= 0xDC00 && unit < 0xE000 {
                    return nil
                }
                guard let scalar = Unicode.Scalar(unit) else { return nil }
                flush()
                scalars.append(scalar)
            default:
                return nil
            }
        }
        flush()
        return String(scalars)
    }

    private static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt32? {
        guard index + 4 <= raw.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = raw[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// A non-negative whole number (`link`, `status`, byte counts); nil otherwise or beyond UInt64.
    static func unsigned(_ line: UnsafeBufferPointer<UInt8>, _ value: Value) -> UInt64? {
        guard value.shape == .number, value.end > value.start else { return nil }
        var result: UInt64 = 0
        for index in value.start..<value.end {
            let byte = line[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            result = sum
        }
        return result
    }

    /// Seconds written with decimals (`12.000345`, `-0.5`) as whole microseconds, digits past
    /// the sixth dropped; nil for anything else (exponents, more than ~292,000 years).
    static func micros(_ line: UnsafeBufferPointer<UInt8>, _ value: Value) -> Int64? {
        guard value.shape == .number else { return nil }
        var index = value.start
        var negative = false
        if index < value.end, line[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var whole: Int64 = 0
        var digits = 0
        while index < value.end, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9") {
            guard whole < 9_000_000_000_000 else { return nil }
            whole = whole * 10 + Int64(line[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        guard digits > 0 else { return nil }
        var fraction: Int64 = 0
        var places = 0
        if index < value.end, line[index] == UInt8(ascii: ".") {
            index += 1
            var fractionDigits = 0
            while index < value.end, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9") {
                if places < 6 { fraction = fraction * 10 + Int64(line[index] - UInt8(ascii: "0")); places += 1 }
                index += 1
                fractionDigits += 1
            }
            guard fractionDigits > 0 else { return nil }
        }
        guard index == value.end else { return nil }
        while places < 6 { fraction *= 10; places += 1 }
        let total = whole * 1_000_000 + fraction
        return negative ? -total : total
    }

    /// `true` or `false`; nil for anything else.
    static func bool(_ line: UnsafeBufferPointer<UInt8>, _ value: Value) -> Bool? {
        guard value.shape == .literal else { return nil }
        return line[value.start] == UInt8(ascii: "t") ? true : line[value.start] == UInt8(ascii: "f") ? false : nil
    }
}
