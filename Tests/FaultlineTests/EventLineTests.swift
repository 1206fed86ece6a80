@testable import Faultline
import XCTest

/// `events.jsonl` lines: written straight into bytes by `EventLine`, they must say exactly what
/// `Event.json` says (the API's stream), with `v` first and `wall` after `time`.
final class EventLineTests: XCTestCase {
    /// A clock whose bus time zero is 2026-12-01T00:45:09.000000Z.
    private let clock = WallClock(epochAtZero: 1_796_085_909_000_000_000)

    private func line(_ kind: Event.Kind, at time: Duration = .milliseconds(12_000) + .microseconds(345),
                      proxy: String? = "redis", link: UInt64? = 3) -> String {
        var writer = EventLine(clock: clock)
        writer.append(Event(time: time, proxy: proxy, link: link, kind: kind))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func testEveryKindMatchesTheAPIObject() throws {
        for kind in EventJSONTests.samples {
            let event = Event(time: .seconds(2), proxy: "p", link: 9, kind: kind)
            var writer = EventLine(clock: clock)
            writer.append(event)
            XCTAssertEqual(writer.bytes.last, UInt8(ascii: "\n"))
            guard case .object(let object) = try JSONParser.parse(writer.bytes.dropLast()) else {
                return XCTFail("not an object: \(kind)")
            }
            XCTAssertEqual(Array(object.keys.prefix(3)), ["v", "time", "wall"])
            XCTAssertEqual(object["v"], .number("1"))
            XCTAssertEqual(object["wall"], .string("2026-12-01T00:45:11.000000Z"))
            var rest = object
            rest["v"] = nil
            rest["wall"] = nil
            XCTAssertEqual(rest, event.json, "\(kind)")
        }
    }

    func testLineIsByteForByteTheAPIText() {
        XCTAssertEqual(line(.connectionClosed(bytesUp: 120, bytesDown: 4096, reset: false)),
                       #"{"v":1,"time":12.000345,"wall":"2026-12-01T00:45:21.000345Z","kind":"connectionClosed","#
                           + #""proxy":"redis","link":3,"bytesUp":120,"bytesDown":4096,"reset":false}"# + "\n")
        XCTAssertEqual(line(.phaseStarted(name: "outage"), at: .zero, proxy: nil, link: nil),
                       #"{"v":1,"time":0.000000,"wall":"2026-12-01T00:45:09.000000Z","kind":"phaseStarted","name":"outage"}"# + "\n")
    }

    /// Hostile text is escaped exactly as `JSONValue` escapes it: one event per line whatever a
    /// Redis key or an HTTP path holds.
    func testStringsAreEscapedAsTheAPIEscapesThem() {
        let hostile = "a\"b\\c\nd\re\tf<g>h&i\u{1}j\u{1F}k\u{2028}l\u{2029}m\u{2027}né😀"
        let text = line(.requestStarted(detail: hostile))
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1)
        XCTAssertTrue(text.hasSuffix(#""detail":"# + JSONValue.string(hostile).text + "}\n"), text)
    }

    func testNegativeAndLargeNumbers() {
        XCTAssertTrue(line(.connectionClosed(bytesUp: .max, bytesDown: 0, reset: true))
            .contains(#""bytesUp":18446744073709551615,"#))
        XCTAssertTrue(line(.commandExited(.killed(signal: 9))).contains(#""status":137,"signal":9}"#))
        XCTAssertTrue(line(.phaseEnded(name: "x"), at: .milliseconds(-500)).contains(#""time":-0.500000,"#))
    }

    /// The wall clock's date part is recomputed when the second changes, not once for ever.
    func testWallCrossesSecondsAndDays() {
        let day = WallClock(epochAtZero: 1_796_169_599_999_999_000)  // 2026-12-01T23:59:59.999999Z
        var writer = EventLine(clock: day)
        writer.append(Event(time: .zero, proxy: nil, link: nil, kind: .connectionOpened))
        writer.append(Event(time: .microseconds(1), proxy: nil, link: nil, kind: .connectionOpened))
        let text = String(decoding: writer.bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("\"wall\":\"2026-12-01T23:59:59.999999Z\""), text)
        XCTAssertTrue(text.contains("\"wall\":\"2026-12-02T00:00:00.000000Z\""), text)
    }
}
