@testable import Faultline
import XCTest

/// `JSONParser`: every JSON shape it must read, and every refusal with its exact
/// `line L, column C: message` (what an API client reads after `bad request body: invalid JSON at `).
final class JSONParserTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        do {
            return try JSONParser.parse(text)
        } catch {
            XCTFail("\(text.debugDescription) did not parse: \(error)", file: file, line: line)
            return nil
        }
    }

    /// The error `bytes` raise, as `line L, column C: message`.
    private func refusal(_ bytes: [UInt8]) -> String? {
        do {
            let value = try JSONParser.parse(bytes)
            return "parsed as \(value.text)"
        } catch {
            return error.description
        }
    }

    private func refusal(_ text: String) -> String? { refusal(Array(text.utf8)) }

    // MARK: shapes

    func testScalars() {
        XCTAssertEqual(parse("null"), .null)
        XCTAssertEqual(parse("true"), .bool(true))
        XCTAssertEqual(parse("false"), .bool(false))
        XCTAssertEqual(parse("\"\""), .string(""))
        XCTAssertEqual(parse("0"), .number("0"))
        XCTAssertEqual(parse(" \t\r\n 7 \n"), .number("7"))
    }

    func testNestingKeepsOrderAndShape() throws {
        let value = parse(#"{"b": [1, {"c": null, "a": []}], "a": {}, "z": [[[]]]}"#)
        var inner = JSONObject()
        inner["c"] = .null
        inner["a"] = .array([])
        var outer = JSONObject()
        outer["b"] = .array([.number("1"), .object(inner)])
        outer["a"] = .object(JSONObject())
        outer["z"] = .array([.array([.array([])])])
        XCTAssertEqual(value, .object(outer))
        guard case .object(let object)? = value else { return XCTFail("not an object") }
        XCTAssertEqual(object.keys, ["b", "a", "z"])
        XCTAssertEqual(value?.text, #"{"b":[1,{"c":null,"a":[]}],"a":{},"z":[[[]]]}"#)
    }

    func testEscapes() {
        XCTAssertEqual(parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(parse(#""\u0041\u00e9\u00E9\u20ac""#), .string("Aéé€"))
        XCTAssertEqual(parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(parse(#""\uD83D\uDE00x""#), .string("😀x"))
        XCTAssertEqual(parse(#""a\u0000b""#), .string("a\u{0}b"))
        XCTAssertEqual(parse("\"raw é 😀 ✓\""), .string("raw é 😀 ✓"))
        XCTAssertEqual(parse(#"{"k\u0065y":1}"#), .object(JSONObject(["key": .number("1")])))
    }

    func testNumbersKeepTheirText() {
        for text in ["-0", "0", "-0.0", "1e10", "1E+2", "-1.5e-3", "0.5", "12.250", "6.02E23",
                     "123456789012345678901234567890", "-9223372036854775809", "18446744073709551616"] {
            XCTAssertEqual(parse(text), .number(text), text)
            XCTAssertEqual(parse("[\(text)]"), .array([.number(text)]), text)
        }
    }

    func testMaxDepthIsAccepted() {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNotNil(parse(deepest))
        let objects = String(repeating: #"{"a":"#, count: 63) + "[]" + String(repeating: "}", count: 63)
        XCTAssertNotNil(parse(objects))
    }

    // MARK: refusals

    func testTrailingCommas() {
        XCTAssertEqual(refusal("[1,2,]"), "line 1, column 6: unexpected ']', a JSON value was expected")
        XCTAssertEqual(refusal(#"{"a":1,}"#), "line 1, column 8: a key in double quotes was expected")
        XCTAssertEqual(refusal("[,1]"), "line 1, column 2: unexpected ',', a JSON value was expected")
    }

    func testComments() {
        XCTAssertEqual(refusal("// hi\n1"), "line 1, column 1: unexpected '/', a JSON value was expected")
        XCTAssertEqual(refusal("[1 /* c */]"), "line 1, column 4: ',' or ']' was expected")
        XCTAssertEqual(refusal("{\"a\":1 # c\n}"), "line 1, column 8: ',' or '}' was expected")
    }

    func testDuplicateKeysPointAtTheSecond() {
        XCTAssertEqual(refusal(#"{"a":1,"a":2}"#), #"line 1, column 8: key "a" appears twice"#)
        XCTAssertEqual(refusal("{\n  \"name\": \"x\",\n  \"name\": \"y\"\n}"), #"line 3, column 3: key "name" appears twice"#)
        XCTAssertEqual(refusal(#"{"a":1,"\u0061":2}"#), #"line 1, column 8: key "a" appears twice"#, "compared once decoded")
        // The same key in two objects is fine.
        XCTAssertNotNil(parse(#"[{"a":1},{"a":2}]"#))
    }

    func testLoneSurrogates() {
        XCTAssertEqual(refusal(#""\ud83d""#), #"line 1, column 2: a lone surrogate \ud83d (a pair is needed)"#)
        XCTAssertEqual(refusal(#""x\ud83dy""#), #"line 1, column 3: a lone surrogate \ud83d (a pair is needed)"#)
        XCTAssertEqual(refusal(#""\ud83d\u0041""#), #"line 1, column 2: a lone surrogate \ud83d"#)
        XCTAssertEqual(refusal(#""\ud83d\ud83d""#), #"line 1, column 2: a lone surrogate \ud83d"#)
        XCTAssertEqual(refusal(#""\ude00""#), #"line 1, column 2: a lone surrogate \ude00"#)
    }

    func testBadEscapes() {
        XCTAssertEqual(refusal(#""\x""#), #"line 1, column 2: '\x' is not an escape JSON knows"#)
        XCTAssertEqual(refusal(#""\'""#), #"line 1, column 2: '\'' is not an escape JSON knows"#)
        XCTAssertEqual(refusal(#""\u12""#), #"line 1, column 4: \u needs four hex digits"#)
        XCTAssertEqual(refusal(#""\u12g4""#), #"line 1, column 4: \u needs four hex digits"#)
        XCTAssertEqual(refusal(#""\"#), "line 1, column 3: the JSON ends inside a string")
    }

    func testControlCharactersInStrings() {
        XCTAssertEqual(refusal("\"a\tb\""), #"line 1, column 3: a control character inside a string (write it as \u0009)"#)
        XCTAssertEqual(refusal("\"a\nb\""), #"line 1, column 3: a control character inside a string (write it as \u000a)"#)
        XCTAssertEqual(refusal([0x22, 0x1F, 0x22]), #"line 1, column 2: a control character inside a string (write it as \u001f)"#)
        XCTAssertEqual(refusal([0x22, 0x00, 0x22]), #"line 1, column 2: a control character inside a string (write it as \u0000)"#)
        // DEL is not a control character to JSON.
        XCTAssertEqual(try? JSONParser.parse([0x22, 0x7F, 0x22]), .string("\u{7F}"))
    }

    func testNumberSyntax() {
        XCTAssertEqual(refusal("01"), "line 1, column 1: a number may not start with 0")
        XCTAssertEqual(refusal("[1, -007]"), "line 1, column 5: a number may not start with 0")
        XCTAssertEqual(refusal("-"), "line 1, column 2: a digit was expected")
        XCTAssertEqual(refusal("-a"), "line 1, column 2: a digit was expected")
        XCTAssertEqual(refusal("1."), "line 1, column 3: a digit was expected after '.'")
        XCTAssertEqual(refusal("1.e5"), "line 1, column 3: a digit was expected after '.'")
        XCTAssertEqual(refusal("1e"), "line 1, column 3: a digit was expected in the exponent")
        XCTAssertEqual(refusal("1e+"), "line 1, column 4: a digit was expected in the exponent")
        XCTAssertEqual(refusal("+1"), "line 1, column 1: unexpected '+', a JSON value was expected")
        XCTAssertEqual(refusal(".5"), "line 1, column 1: unexpected '.', a JSON value was expected")
        XCTAssertEqual(refusal("NaN"), "line 1, column 1: unexpected 'N', a JSON value was expected")
        XCTAssertEqual(refusal("0x10"), "line 1, column 2: unexpected text after the JSON value")
    }

    func testLiterals() {
        XCTAssertEqual(refusal("tru"), "line 1, column 1: unexpected 't', a JSON value was expected")
        XCTAssertEqual(refusal("[nul]"), "line 1, column 2: unexpected 'n', a JSON value was expected")
        XCTAssertEqual(refusal("True"), "line 1, column 1: unexpected 'T', a JSON value was expected")
        XCTAssertEqual(refusal("'a'"), "line 1, column 1: unexpected ''', a JSON value was expected")
    }

    func testUnterminated() {
        XCTAssertEqual(refusal("\"abc"), "line 1, column 5: the JSON ends inside a string")
        XCTAssertEqual(refusal("[1,2"), "line 1, column 5: the JSON ends early: ']' was expected")
        XCTAssertEqual(refusal("[1,"), "line 1, column 4: the JSON ends early")
        XCTAssertEqual(refusal("["), "line 1, column 2: the JSON ends early")
        XCTAssertEqual(refusal(#"{"a":1"#), "line 1, column 7: the JSON ends early: '}' was expected")
        XCTAssertEqual(refusal(#"{"a":"#), "line 1, column 6: the JSON ends early")
        XCTAssertEqual(refusal(#"{"a""#), #"line 1, column 5: ':' was expected after the key "a""#)
        XCTAssertEqual(refusal("{"), "line 1, column 2: a key in double quotes was expected")
        XCTAssertEqual(refusal("{\n\"a\": [1,\n2"), "line 3, column 2: the JSON ends early: ']' was expected")
    }

    func testEmptyAndTrailingText() {
        XCTAssertEqual(refusal(""), "line 1, column 1: the body is empty, a JSON value was expected")
        XCTAssertEqual(refusal("  \n "), "line 2, column 2: the JSON ends early")
        XCTAssertEqual(refusal("{} x"), "line 1, column 4: unexpected text after the JSON value")
        XCTAssertEqual(refusal("1 2"), "line 1, column 3: unexpected text after the JSON value")
        XCTAssertEqual(refusal("{}\n{}"), "line 2, column 1: unexpected text after the JSON value")
    }

    func testNestingDeeperThan64() {
        let arrays = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertEqual(refusal(arrays), "line 1, column 65: nested deeper than 64 levels")
        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        XCTAssertEqual(refusal(objects), "line 1, column 321: nested deeper than 64 levels")
        let mixed = String(repeating: #"[{"a":"#, count: 33)
        XCTAssertEqual(refusal(mixed), "line 1, column 193: nested deeper than 64 levels")
    }

    func testHundredThousandBracketsDoNotCrash() {
        XCTAssertEqual(refusal(String(repeating: "[", count: 100_000)), "line 1, column 65: nested deeper than 64 levels")
        XCTAssertEqual(refusal(String(repeating: #"{"a":"#, count: 100_000)), "line 1, column 321: nested deeper than 64 levels")
    }

    func testInvalidUTF8() {
        XCTAssertEqual(refusal([0x22, 0x61, 0xFF, 0x62, 0x22]), "line 1, column 2: text that is not valid UTF-8")
        // A truncated sequence before an escape, an encoded surrogate, an overlong '/'.
        XCTAssertEqual(refusal([0x22, 0xC3, 0x5C, 0x6E, 0x22]), "line 1, column 2: text that is not valid UTF-8")
        XCTAssertEqual(refusal([0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22]), "line 1, column 4: text that is not valid UTF-8")
        XCTAssertEqual(refusal([0x22, 0xC0, 0xAF, 0x22]), "line 1, column 2: text that is not valid UTF-8")
        XCTAssertEqual(refusal([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]), "line 1, column 3: text that is not valid UTF-8")
        XCTAssertEqual(refusal([0xFF]), #"line 1, column 1: unexpected '\xff', a JSON value was expected"#)
        XCTAssertEqual(refusal([0x5B, 0x20, 0x01]), #"line 1, column 3: unexpected '\x01', a JSON value was expected"#)
    }

    func testErrorDescriptionShape() {
        let error = JSONSyntaxError(line: 3, column: 12, message: "x")
        XCTAssertEqual(error.description, "line 3, column 12: x")
    }

    // MARK: round trip

    func testRoundTrip() throws {
        var nested = JSONObject()
        nested["z"] = .number("-0")
        nested["a"] = .array([.null, .bool(false), .string("<&>\u{2028}\u{2029}")])
        nested["ключ 😀"] = .object(JSONObject(["x": .number("1e-7")]))
        let values: [JSONValue] = [
            .null, .bool(true), .bool(false), .number("0"), .number("-12.5E+3"),
            .number("123456789012345678901234567890"), .string(""), .string("plain"),
            .string("\"quoted\" \\ back / slash"), .string("\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}\n\r\t"),
            .string("é€😀\u{10FFFF}"), .array([]), .object(JSONObject()), .object(nested),
            .array([.object(nested), .array([.array([.number("1")])])]),
            .object(JSONObject(["name": .string("p"), "enabled": .bool(true), "toxics": .array([])])),
            .float(0.1), .float(1), .float(0.25), .int(Int64.min), .int(UInt64.max),
        ]
        for value in values {
            XCTAssertEqual(try JSONParser.parse(value.text), value, value.text)
        }
    }
}
