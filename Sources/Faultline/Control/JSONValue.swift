/// A JSON value whose objects keep their members in order.
///
/// The control API answers with Toxiproxy's field order (Go writes struct fields in declaration
/// order, and clients such as toxiproxy-cli print what they get), and reads bodies strictly so
/// that an error can name the field. Foundation's JSON types do neither, so this is ours.
/// Numbers keep the text they were written as: `limit_data` takes byte counts past 2^53.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number as written (validated JSON number syntax).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A whole number.
    public static func int<T: BinaryInteger>(_ value: T) -> JSONValue { .number(String(value)) }

    /// A fraction as Go's encoding/json writes a float32: the shortest digits, plain from 1e-6
    /// to 1e21 (`0.00001`, `1`), with an exponent outside (`1e-7`, without Swift's `e-07` zero).
    public static func float(_ value: Float) -> JSONValue {
        let magnitude = abs(value)
        if magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21) { return .number(DecimalText.plain(value.description)) }
        return .number(DecimalText.goExponent(value.description))
    }

    /// What the value is, for "must be a number, not text".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "true or false"
        case .number: "a number"
        case .string: "text"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// A JSON object: members in the order they were written or added; keys are unique.
public struct JSONObject: Equatable, Sendable {
    /// One `"key": value`.
    public struct Member: Equatable, Sendable {
        public let key: String
        public var value: JSONValue
    }

    /// The members, in order.
    public private(set) var members: [Member] = []

    /// An empty object.
    public init() {}

    /// An object with these members, in this order (later duplicates replace earlier ones).
    public init(_ pairs: KeyValuePairs<String, JSONValue>) {
        for (key, value) in pairs { self[key] = value }
    }

    /// The value under `key`; setting appends a new key at the end, or replaces in place.
    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    /// The keys, in order.
    public var keys: [String] { members.map(\.key) }
}

extension JSONValue {
    /// The value as compact JSON text, escaped as Go's encoding/json escapes (`<`, `>`, `&`,
    /// U+2028/9 as `\u…`), so answers compare byte for byte with Toxiproxy's.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    /// Appends the value's JSON text to `out`.
    public func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let value): Self.writeString(value, to: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (index, member) in object.members.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(member.key, to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        }
    }

    private static let hex = Array("0123456789abcdef")

    static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += escaped(scalar.value)
            default:
                if scalar.value < 0x20 { out += escaped(scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        out += "\""
    }

    private static func escaped(_ code: UInt32) -> String {
        var text = "\\u"
        for shift in stride(from: 12, through: 0, by: -4) { text.append(hex[Int((code >> UInt32(shift)) & 0xF)]) }
        return text
    }
}

/// Number texts as Go and our parameter parsers want them, from Swift's shortest `description`.
enum DecimalText {
    /// `1e-05` → `0.00001`, `1.5e+15` → `1500000000000000`, `2.0` → `2`: the same digits
    /// without exponent or a `.0` on whole values. An exponent beyond ±64 leaves the text as it
    /// is (no parameter takes such a number, and its refusal names it as written): written out,
    /// `1e999999999` would be a gigabyte of zeros (the JSON fuzzer found that).
    static func plain(_ text: String) -> String {
        var digits = text
        var sign = ""
        if digits.hasPrefix("-") { sign = "-"; digits.removeFirst() }
        var exponent = 0
        if let e = digits.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let value = Int(String(digits[digits.index(after: e)...].filter { $0 != "+" })), abs(value) <= 64 else {
                return text
            }
            exponent = value
            digits = String(digits[..<e])
        }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        var whole = String(parts[0])
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        if exponent > 0 {
            fraction += String(repeating: "0", count: max(0, exponent - fraction.count))
            whole += fraction.prefix(exponent)
            fraction = String(fraction.dropFirst(exponent))
        } else if exponent < 0 {
            let shift = -exponent
            whole = String(repeating: "0", count: max(0, shift - whole.count + 1)) + whole
            fraction = String(whole.suffix(shift)) + fraction
            whole = String(whole.dropLast(shift))
        }
        whole = String(whole.drop { $0 == "0" })
        if whole.isEmpty { whole = "0" }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return sign + whole + (fraction.isEmpty ? "" : "." + fraction)
    }

    /// `1e-07` → `1e-7`, `1e+21` → `1e+21`: Go drops the exponent's leading zero.
    static func goExponent(_ text: String) -> String {
        guard let e = text.firstIndex(of: "e") else { return text }
        var exponent = text[text.index(after: e)...]
        var sign = ""
        if let first = exponent.first, first == "-" || first == "+" { sign = String(first); exponent = exponent.dropFirst() }
        let trimmed = exponent.drop { $0 == "0" }
        return String(text[..<e]) + "e" + sign + (trimmed.isEmpty ? "0" : String(trimmed))
    }
}
