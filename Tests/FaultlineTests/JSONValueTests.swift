@testable import Faultline
import XCTest

/// `JSONValue.text` writes what Go's encoding/json writes (Toxiproxy's answers compare byte for
/// byte), and `JSONObject` keeps its members in order.
final class JSONValueTests: XCTestCase {
    func testScalars() {
        XCTAssertEqual(JSONValue.null.text, "null")
        XCTAssertEqual(JSONValue.bool(true).text, "true")
        XCTAssertEqual(JSONValue.bool(false).text, "false")
        XCTAssertEqual(JSONValue.number("-1.5e3").text, "-1.5e3")
        XCTAssertEqual(JSONValue.int(42).text, "42")
        XCTAssertEqual(JSONValue.int(-7 as Int8).text, "-7")
        XCTAssertEqual(JSONValue.int(UInt64.max).text, "18446744073709551615")
        XCTAssertEqual(JSONValue.string("").text, #""""#)
        XCTAssertEqual(JSONValue.array([]).text, "[]")
        XCTAssertEqual(JSONValue.object(JSONObject()).text, "{}")
    }

    func testGoHTMLEscapes() {
        XCTAssertEqual(JSONValue.string("<script>a && b</script>").text,
                       #""\u003cscript\u003ea \u0026\u0026 b\u003c/script\u003e""#)
        XCTAssertEqual(JSONValue.string("a\u{2028}b\u{2029}c").text, #""a\u2028b\u2029c""#)
    }

    func testShortEscapes() {
        XCTAssertEqual(JSONValue.string("\"quoted\" back\\slash").text, #""\"quoted\" back\\slash""#)
        XCTAssertEqual(JSONValue.string("a\nb\rc\td").text, #""a\nb\rc\td""#)
        // Go writes '/' as is.
        XCTAssertEqual(JSONValue.string("a/b").text, #""a/b""#)
    }

    func testControlCharactersAsUnicodeEscapes() {
        // Go 1.19 (the peers' Toxiproxy build) writes \b and \f as \u0008 and \u000c.
        XCTAssertEqual(JSONValue.string("\u{0}\u{1}\u{8}\u{b}\u{c}\u{e}\u{1b}\u{1f}").text,
                       #""\u0000\u0001\u0008\u000b\u000c\u000e\u001b\u001f""#)
        // DEL and everything from U+0080 on is written as is (no \u escape).
        XCTAssertEqual(JSONValue.string("\u{7f}é€😀\u{85}\u{a0}").text, "\"\u{7f}é€😀\u{85}\u{a0}\"")
    }

    func testKeysAreEscapedToo() {
        let object = JSONObject(["<k>\n": .string("&")])
        XCTAssertEqual(JSONValue.object(object).text, #"{"\u003ck\u003e\n":"\u0026"}"#)
    }

    func testCompactNestedAndKeyOrder() {
        let toxic = JSONValue.object(JSONObject([
            "attributes": .object(JSONObject(["latency": .int(100), "jitter": .int(0)])),
            "name": .string("latency_downstream"),
            "type": .string("latency"),
            "stream": .string("downstream"),
            "toxicity": .float(1),
        ]))
        XCTAssertEqual(toxic.text,
                       #"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#)
        XCTAssertEqual(JSONValue.array([.null, .array([.bool(true)]), .object(JSONObject(["z": .int(1), "a": .int(2)]))]).text,
                       #"[null,[true],{"z":1,"a":2}]"#)
    }

    func testWriteAppends() {
        var out = "x="
        JSONValue.array([.int(1), .string("a")]).write(to: &out)
        XCTAssertEqual(out, #"x=[1,"a"]"#)
    }

    // MARK: JSONObject

    func testObjectSubscriptSetReplaceRemove() {
        var object = JSONObject()
        object["b"] = .int(1)
        object["a"] = .int(2)
        object["c"] = .int(3)
        XCTAssertEqual(object.keys, ["b", "a", "c"])
        object["a"] = .string("two")
        XCTAssertEqual(object.keys, ["b", "a", "c"], "replacing keeps the place")
        XCTAssertEqual(object["a"], .string("two"))
        object["b"] = nil
        XCTAssertEqual(object.keys, ["a", "c"])
        XCTAssertNil(object["b"])
        object["missing"] = nil
        XCTAssertEqual(object.keys, ["a", "c"])
        object["b"] = .null
        XCTAssertEqual(object.keys, ["a", "c", "b"], "a re-added key goes at the end")
        XCTAssertEqual(object["b"], .null, "null is a value, not an absence")
        XCTAssertEqual(JSONValue.object(object).text, #"{"a":"two","c":3,"b":null}"#)
        XCTAssertEqual(object.members.map(\.value), [.string("two"), .int(3), .null])
    }

    func testObjectInitFromPairs() {
        let object = JSONObject(["z": .int(1), "a": .int(2), "z": .int(3)])
        XCTAssertEqual(object.keys, ["z", "a"], "a later duplicate replaces in place")
        XCTAssertEqual(object["z"], .int(3))
    }

    func testObjectEqualityIsOrdered() {
        XCTAssertNotEqual(JSONObject(["a": .int(1), "b": .int(2)]), JSONObject(["b": .int(2), "a": .int(1)]))
        XCTAssertEqual(JSONObject(["a": .int(1), "b": .int(2)]), JSONObject(["a": .int(1), "b": .int(2)]))
    }

    func testTypeNames() {
        XCTAssertEqual(JSONValue.null.typeName, "null")
        XCTAssertEqual(JSONValue.bool(true).typeName, "true or false")
        XCTAssertEqual(JSONValue.number("1").typeName, "a number")
        XCTAssertEqual(JSONValue.string("x").typeName, "text")
        XCTAssertEqual(JSONValue.array([]).typeName, "a list")
        XCTAssertEqual(JSONValue.object(JSONObject()).typeName, "an object")
    }

    // MARK: float32 as Go writes it

    func testFloatCommonValues() {
        XCTAssertEqual(JSONValue.float(1).text, "1")
        XCTAssertEqual(JSONValue.float(0).text, "0")
        XCTAssertEqual(JSONValue.float(5).text, "5")
        XCTAssertEqual(JSONValue.float(-1).text, "-1")
        XCTAssertEqual(JSONValue.float(0.5).text, "0.5")
        XCTAssertEqual(JSONValue.float(0.25).text, "0.25")
        XCTAssertEqual(JSONValue.float(Float(0.1)).text, "0.1")
        XCTAssertEqual(JSONValue.float(Float(0.3)).text, "0.3")
        XCTAssertEqual(JSONValue.float(Float(0.7)).text, "0.7")
        XCTAssertEqual(JSONValue.float(Float(0.001)).text, "0.001")
        XCTAssertEqual(JSONValue.float(Float(1.5)).text, "1.5")
        XCTAssertEqual(JSONValue.float(Float(0.333)).text, "0.333")
    }

    /// Go's floatEncoder uses plain digits for 1e-6 <= |f| < 1e21 and `1e-7` (no zero-padded
    /// exponent) outside: Swift's `Float.description` writes `1e-05` for 0.00001.
    func testFloatSmallValuesAsGo() {
        XCTAssertEqual(JSONValue.float(Float(0.0001)).text, "0.0001")
        XCTAssertEqual(JSONValue.float(Float(0.00001)).text, "0.00001")
        XCTAssertEqual(JSONValue.float(Float(0.000001)).text, "0.000001")
        XCTAssertEqual(JSONValue.float(Float(1e-7)).text, "1e-7")
    }

    /// Numbers written out without exponent stay bounded: `1e999999999` (found by the JSON
    /// fuzzer as a gigabyte allocation) is left as written, for the parameter to refuse.
    func testDecimalTextLeavesHugeExponentsAlone() {
        XCTAssertEqual(DecimalText.plain("1e-05"), "0.00001")
        XCTAssertEqual(DecimalText.plain("1.5e+15"), "1500000000000000")
        XCTAssertEqual(DecimalText.plain("2.0"), "2")
        XCTAssertEqual(DecimalText.plain("1e64"), "1" + String(repeating: "0", count: 64))
        XCTAssertEqual(DecimalText.plain("1e999999999"), "1e999999999")
        XCTAssertEqual(DecimalText.plain("-3E-999999999"), "-3E-999999999")
    }
}
