@testable import Faultline
import XCTest

/// Events as the JSON objects `GET /events` streams and `events.jsonl` stores.
final class EventJSONTests: XCTestCase {
    private func text(_ kind: Event.Kind, at time: Duration = .microseconds(12_000_345), proxy: String? = "redis",
                      link: UInt64? = 3) -> String {
        JSONValue.object(Event(time: time, proxy: proxy, link: link, kind: kind).json).text
    }

    func testConnectionEvents() {
        XCTAssertEqual(text(.connectionOpened), #"{"time":12.000345,"kind":"connectionOpened","proxy":"redis","link":3}"#)
        XCTAssertEqual(text(.connectionClosed(bytesUp: 120, bytesDown: 18_446_744_073_709_551_615, reset: true)),
                       #"{"time":12.000345,"kind":"connectionClosed","proxy":"redis","link":3,"bytesUp":120,"#
                           + #""bytesDown":18446744073709551615,"reset":true}"#)
        XCTAssertEqual(text(.upstreamFailed(reason: "connection refused")),
                       #"{"time":12.000345,"kind":"upstreamFailed","proxy":"redis","link":3,"reason":"connection refused"}"#)
        XCTAssertEqual(text(.listening(address: "127.0.0.1:6380"), link: nil),
                       #"{"time":12.000345,"kind":"listening","proxy":"redis","address":"127.0.0.1:6380"}"#)
        XCTAssertEqual(text(.exchangeAbandoned), #"{"time":12.000345,"kind":"exchangeAbandoned","proxy":"redis","link":3}"#)
    }

    func testRequestEvents() {
        XCTAssertEqual(text(.requestStarted(detail: #"GET "a<b>""#)),
                       #"{"time":12.000345,"kind":"requestStarted","proxy":"redis","link":3,"detail":"GET \"a\u003cb\u003e\""}"#)
        // The latency rounds to the microsecond; a nil error is left out.
        XCTAssertEqual(text(.requestAnswered(error: nil, byFaultline: false, latency: .nanoseconds(2_000_600), handshake: false)),
                       #"{"time":12.000345,"kind":"requestAnswered","proxy":"redis","link":3,"byFaultline":false,"#
                           + #""latency":0.002001,"handshake":false}"#)
        XCTAssertEqual(text(.requestAnswered(error: "NOAUTH", byFaultline: true, latency: .seconds(3), handshake: true)),
                       #"{"time":12.000345,"kind":"requestAnswered","proxy":"redis","link":3,"error":"NOAUTH","#
                           + #""byFaultline":true,"latency":3.000000,"handshake":true}"#)
        XCTAssertEqual(text(.responseStarted(status: 503, byFaultline: true, firstByte: .microseconds(250)), proxy: "web"),
                       #"{"time":12.000345,"kind":"responseStarted","proxy":"web","link":3,"status":503,"byFaultline":true,"#
                           + #""firstByte":0.000250}"#)
        XCTAssertEqual(text(.protocolError(fromClient: true, message: "expected '$'")),
                       #"{"time":12.000345,"kind":"protocolError","proxy":"redis","link":3,"fromClient":true,"message":"expected '$'"}"#)
    }

    func testTLSEvents() {
        XCTAssertEqual(text(.tlsHandshakeCompleted(profile: "valid", version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256",
                                                   sni: nil, alpn: "h2")),
                       #"{"time":12.000345,"kind":"tlsHandshakeCompleted","proxy":"redis","link":3,"profile":"valid","#
                           + #""version":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256","alpn":"h2"}"#)
        XCTAssertEqual(text(.tlsHandshakeFailed(profile: "expired", reason: "client closed", alert: nil)),
                       #"{"time":12.000345,"kind":"tlsHandshakeFailed","proxy":"redis","link":3,"profile":"expired","#
                           + #""reason":"client closed"}"#)
        XCTAssertEqual(text(.tlsHandshakeFailed(profile: "expired", reason: "alert", alert: "certificate_expired")),
                       #"{"time":12.000345,"kind":"tlsHandshakeFailed","proxy":"redis","link":3,"profile":"expired","#
                           + #""reason":"alert","alert":"certificate_expired"}"#)
    }

    /// The fault's kind is `faultKind`: `kind` is the event's.
    func testFaultEvents() {
        XCTAssertEqual(text(.faultOn(name: "slow", kind: "latency"), link: nil),
                       #"{"time":12.000345,"kind":"faultOn","proxy":"redis","name":"slow","faultKind":"latency"}"#)
        XCTAssertEqual(text(.faultApplied(name: "cut", kind: "tcp.reset")),
                       #"{"time":12.000345,"kind":"faultApplied","proxy":"redis","link":3,"name":"cut","faultKind":"tcp.reset"}"#)
        XCTAssertEqual(text(.faultFired(name: "cut", kind: "tcp.reset", action: "reset")),
                       #"{"time":12.000345,"kind":"faultFired","proxy":"redis","link":3,"name":"cut","faultKind":"tcp.reset","#
                           + #""action":"reset"}"#)
    }

    func testRunEvents() {
        XCTAssertEqual(text(.phaseStarted(name: "outage"), at: .seconds(30), proxy: nil, link: nil),
                       #"{"time":30.000000,"kind":"phaseStarted","name":"outage"}"#)
        XCTAssertEqual(text(.commandStarted(command: "pytest -x", pid: 4242), at: .zero, proxy: nil, link: nil),
                       #"{"time":0.000000,"kind":"commandStarted","command":"pytest -x","pid":4242}"#)
        XCTAssertEqual(text(.commandExited(.exited(3)), proxy: nil, link: nil),
                       #"{"time":12.000345,"kind":"commandExited","exit":"exited","status":3}"#)
        XCTAssertEqual(text(.commandExited(.killed(signal: 9)), proxy: nil, link: nil),
                       #"{"time":12.000345,"kind":"commandExited","exit":"killed","status":137,"signal":9}"#)
        XCTAssertEqual(text(.stopping(signal: 15, commandGroup: 4242, killAfter: .milliseconds(2_500)), proxy: nil, link: nil),
                       #"{"time":12.000345,"kind":"stopping","signal":15,"commandGroup":4242,"killAfter":2.500000}"#)
        XCTAssertEqual(text(.stopping(signal: 2, commandGroup: nil, killAfter: .seconds(5)), proxy: nil, link: nil),
                       #"{"time":12.000345,"kind":"stopping","signal":2,"killAfter":5.000000}"#)
        XCTAssertEqual(text(.verdict(label: "max_rate during outage", expectation: "max_rate", status: "fail",
                                     observed: "max_rate 12.0/s > 10/s"), proxy: nil, link: nil),
                       #"{"time":12.000345,"kind":"verdict","label":"max_rate during outage","expectation":"max_rate","status":"fail","observed":"max_rate 12.0/s \u003e 10/s"}"#)
        XCTAssertEqual(text(.recordingStopped(file: "capture.pcapng", reason: "No space left on device"), proxy: nil, link: nil),
                       #"{"time":12.000345,"kind":"recordingStopped","file":"capture.pcapng","reason":"No space left on device"}"#)
    }

    /// Seconds with exactly 6 decimals, rounded to the microsecond (a carry reaches the seconds).
    func testSecondsText() {
        XCTAssertEqual(Event.seconds(.zero), "0.000000")
        XCTAssertEqual(Event.seconds(.nanoseconds(499)), "0.000000")
        XCTAssertEqual(Event.seconds(.nanoseconds(500)), "0.000001")
        XCTAssertEqual(Event.seconds(.nanoseconds(1_999_999_600)), "2.000000")
        XCTAssertEqual(Event.seconds(.seconds(86_400) + .microseconds(7)), "86400.000007")
        XCTAssertEqual(Event.seconds(.zero - .milliseconds(1_500)), "-1.500000")
        XCTAssertEqual(Event.seconds(.zero - .nanoseconds(400)), "0.000000")
        for text in [Event.seconds(.seconds(Int64.max)), Event.seconds(.seconds(Int64.min))] {
            XCTAssertTrue(text.hasSuffix(".000000"), text)
        }
    }

    /// One of every kind. A new case fails the build in `Event.KindName` until it is named
    /// there, then `testEveryKindIsNamed` until it is added here.
    static let samples: [Event.Kind] = [
        .listening(address: "127.0.0.1:1"), .connectionOpened, .upstreamConnected,
        .exchangeStarted, .exchangeAnswered, .exchangeAbandoned,
        .tlsHandshakeCompleted(profile: "p", version: "v", cipher: "c", sni: "s", alpn: "a"),
        .tlsHandshakeFailed(profile: "p", reason: "r", alert: "a"),
        .requestStarted(detail: "GET k"), .requestAnswered(error: "E", byFaultline: true, latency: .seconds(1), handshake: true),
        .responseStarted(status: 200, byFaultline: false, firstByte: .seconds(1)), .requestAbandoned,
        .protocolError(fromClient: true, message: "m"), .upstreamFailed(reason: "r"),
        .connectionClosed(bytesUp: 1, bytesDown: 2, reset: false),
        .faultOn(name: "f", kind: "k"), .faultOff(name: "f", kind: "k"), .faultApplied(name: "f", kind: "k"),
        .faultFired(name: "f", kind: "k", action: "a"),
        .phaseStarted(name: "p"), .phaseEnded(name: "p"), .commandStarted(command: "c", pid: 1),
        .commandExited(.exited(0)), .stopping(signal: 15, commandGroup: 1, killAfter: .seconds(1)),
        .verdict(label: "max_rate during outage", expectation: "max_rate", status: "pass", observed: "max_rate 4.0/s ≤ 10/s"),
        .recordingStopped(file: "capture.pcapng", reason: "No space left on device"),
    ]

    func testEveryKindIsNamed() {
        let names = Self.samples.map(Event.kindName)
        XCTAssertEqual(Set(Self.samples.map { Event.KindName($0) }), Set(Event.KindName.allCases),
                       "a kind has no sample in EventJSONTests.samples")
        XCTAssertEqual(names, Event.kindNames, "samples and kindNames differ (or are in a different order)")
        XCTAssertEqual(Set(names).count, names.count, "two kinds share a name")
        for kind in Self.samples {
            // The name is the case's name as Swift writes it.
            let swiftName = Mirror(reflecting: kind).children.first?.label ?? String(describing: kind)
            XCTAssertEqual(Event.kindName(kind), swiftName)
            XCTAssertEqual(Event(time: .zero, proxy: nil, link: nil, kind: kind).json["kind"], .string(swiftName))
        }
    }

    /// No member of a case's values replaces `time`, `kind`, `proxy` or `link` (a `kind:` label
    /// would: the fault events write theirs as `faultKind`), and every object starts with them.
    func testEnvelopeKeysComeFirstAndStay() {
        for kind in Self.samples {
            let json = Event(time: .seconds(1), proxy: "p", link: 1, kind: kind).json
            XCTAssertEqual(Array(json.keys.prefix(4)), ["time", "kind", "proxy", "link"], "\(kind)")
            XCTAssertEqual(json["time"], .number("1.000000"), "\(kind)")
            XCTAssertEqual(json["kind"], .string(Event.kindName(kind)), "\(kind)")
            XCTAssertEqual(json["proxy"], .string("p"), "\(kind)")
            XCTAssertEqual(json["link"], .number("1"), "\(kind)")
        }
    }
}
