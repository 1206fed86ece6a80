/// Reads JSON text (RFC 8259) strictly: no comments, no trailing commas, no duplicate keys, no
/// lone surrogates, nesting at most `maxDepth` deep. Errors say where (line and column) and what
/// was expected, so an API client can fix its body.
public struct JSONParser {
    /// How deep arrays and objects may nest: a body of 100,000 `[` must not exhaust the stack.
    public static let maxDepth = 64

    private let bytes: [UInt8]
    private var at = 0
    private var depth = 0

    /// Parses a whole document: one value, whitespace around it, nothing else.
    public static func parse(_ text: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: Array(text))
        parser.skipSpace()
        let value = try parser.value()
        parser.skipSpace()
        guard parser.at == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    /// Parses a string's UTF-8.
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue { try parse(Array(text.utf8)) }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func value() throws(JSONSyntaxError) -> JSONValue {
        guard at < bytes.count else { throw error(bytes.isEmpty ? "the body is empty, a JSON value was expected" : "the JSON ends early") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected '\(Self.show(bytes[at]))', a JSON value was expected")
        }
    }

    private mutating func object() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        at += 1
        var object = JSONObject()
        skipSpace()
        if peek(UInt8(ascii: "}")) { at += 1; depth -= 1; return .object(object) }
        while true {
            skipSpace()
            guard peek(UInt8(ascii: "\"")) else { throw error("a key in double quotes was expected") }
            let keyStart = at
            let key = try string()
            if object[key] != nil { throw error("key \"\(key)\" appears twice", at: keyStart) }
            skipSpace()
            guard peek(UInt8(ascii: ":")) else { throw error("':' was expected after the key \"\(key)\"") }
            at += 1
            skipSpace()
            object[key] = try value()
            skipSpace()
            if peek(UInt8(ascii: ",")) { at += 1; continue }
            if peek(UInt8(ascii: "}")) { at += 1; break }
            throw error(at < bytes.count ? "',' or '}' was expected" : "the JSON ends early: '}' was expected")
        }
        depth -= 1
        return .object(object)
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        at += 1
        var values: [JSONValue] = []
        skipSpace()
        if peek(UInt8(ascii: "]")) { at += 1; depth -= 1; return .array(values) }
        while true {
            skipSpace()
            values.append(try value())
            skipSpace()
            if peek(UInt8(ascii: ",")) { at += 1; continue }
            if peek(UInt8(ascii: "]")) { at += 1; break }
            throw error(at < bytes.count ? "',' or ']' was expected" : "the JSON ends early: ']' was expected")
        }
        depth -= 1
        return .array(values)
    }

    private mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        if depth > Self.maxDepth { throw error("nested deeper than \(Self.maxDepth) levels") }
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        at += 1
        var scalars = String.UnicodeScalarView()
        var runStart = at
        func flush(_ parser: JSONParser, upTo end: Int) throws(JSONSyntaxError) {
            guard runStart < end else { return }
            guard let run = String(validating: parser.bytes[runStart..<end], as: UTF8.self) else {
                throw parser.error("text that is not valid UTF-8", at: runStart)
            }
            scalars.append(contentsOf: run.unicodeScalars)
        }
        while at < bytes.count {
            let byte = bytes[at]
            if byte == UInt8(ascii: "\"") {
                try flush(self, upTo: at)
                at += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("a control character inside a string (write it as \\u00\(Self.hexByte(byte)))") }
            if byte == UInt8(ascii: "\\") {
                try flush(self, upTo: at)
                scalars.append(try escape())
                runStart = at
                continue
            }
            at += 1
        }
        throw error("the JSON ends inside a string")
    }

    private mutating func escape() throws(JSONSyntaxError) -> Unicode.Scalar {
        let start = at
        at += 1
        guard at < bytes.count else { throw error("the JSON ends inside a string") }
        let letter = bytes[at]
        at += 1
        switch letter {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{8}"
        case UInt8(ascii: "f"): return "\u{c}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try hex4()
            if (0xD800...0xDBFF).contains(high) {
                guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                    throw error("a lone surrogate \\u\(String(high, radix: 16)) (a pair is needed)", at: start)
                }
                at += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("a lone surrogate \\u\(String(high, radix: 16))", at: start) }
                guard let pair = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else {
                    throw error("a surrogate pair that is not a character", at: start)
                }
                return pair
            }
            guard let scalar = Unicode.Scalar(high) else { throw error("a lone surrogate \\u\(String(high, radix: 16))", at: start) }
            return scalar
        default:
            throw error("'\\\(Self.show(letter))' is not an escape JSON knows", at: start)
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard at + 4 <= bytes.count else { throw error("\\u needs four hex digits") }
        var value: UInt32 = 0
        for byte in bytes[at..<at + 4] {
            guard let digit = Self.hexValue(byte) else { throw error("\\u needs four hex digits") }
            value = value << 4 | digit
        }
        at += 4
        return value
    }

    private mutating func number() throws(JSONSyntaxError) -> String {
        let start = at
        if peek(UInt8(ascii: "-")) { at += 1 }
        guard at < bytes.count, Self.isDigit(bytes[at]) else { throw error("a digit was expected") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
            if at < bytes.count, Self.isDigit(bytes[at]) { throw error("a number may not start with 0", at: start) }
        } else {
            digits()
        }
        if peek(UInt8(ascii: ".")) {
            at += 1
            guard at < bytes.count, Self.isDigit(bytes[at]) else { throw error("a digit was expected after '.'") }
            digits()
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            at += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { at += 1 }
            guard at < bytes.count, Self.isDigit(bytes[at]) else { throw error("a digit was expected in the exponent") }
            digits()
        }
        return String(decoding: bytes[start..<at], as: UTF8.self)
    }

    private mutating func digits() {
        while at < bytes.count, Self.isDigit(bytes[at]) { at += 1 }
    }

    private mutating func literal(_ word: String) throws(JSONSyntaxError) {
        let expected = word.utf8
        guard at + expected.count <= bytes.count, bytes[at..<at + expected.count].elementsEqual(expected) else {
            throw error("unexpected '\(Self.show(bytes[at]))', a JSON value was expected")
        }
        at += expected.count
    }

    private mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0A, 0x0D: at += 1
            default: return
            }
        }
    }

    private func peek(_ byte: UInt8) -> Bool { at < bytes.count && bytes[at] == byte }

    private func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        let position = min(offset ?? at, bytes.count)
        var line = 1
        var lineStart = 0
        for index in 0..<position where bytes[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        return JSONSyntaxError(line: line, column: position - lineStart + 1, message: message)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let text = String(byte, radix: 16)
        return text.count == 1 ? "0" + text : text
    }

    private static func show(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? String(UnicodeScalar(byte)) : "\\x\(hexByte(byte))"
    }
}

/// JSON that does not parse: where, and what was expected.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String
    /// `line 1, column 12: ':' was expected after the key "name"`.
    public var description: String { "line \(line), column \(column): \(message)" }
}
