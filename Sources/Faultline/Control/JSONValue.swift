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

    /// A fraction as Go's encoding/json writes a float32: shortest form, no `.0` on whole values.
    public static func float(_ value: Float) -> JSONValue {
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(value.description)
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
