@testable import Faultline
import FoundationXML
import XCTest

/// The verdict as text and as JUnit XML.
final class ExpectationReportTests: XCTestCase {
    private let verdicts = [
        Verdict(label: "max_rate: 10 (during: outage, proxy: redis)", kind: "max_rate", status: .pass,
                observed: "max_rate 4.0/s ≤ 10/s", judgedOver: .seconds(30)),
        Verdict(label: "max_connection_attempts: 6 (during: outage)", kind: "max_connection_attempts", status: .fail,
                observed: "max_connection_attempts 7 > 6", judgedOver: .milliseconds(30_250)),
        Verdict(label: "client_rejects_certificate: true", kind: "client_rejects_certificate", status: .error,
                observed: "client_rejects_certificate: 2 handshakes in scope, all under valid: under valid the client has nothing to reject"),
    ]

    func testTextHasOneLinePerExpectationAndASummary() {
        XCTAssertEqual(VerdictReport.text(verdicts, scenario: "redis-auth"), """
            PASS  max_rate: 10 (during: outage, proxy: redis) — max_rate 4.0/s ≤ 10/s
            FAIL  max_connection_attempts: 6 (during: outage) — max_connection_attempts 7 > 6
            ERROR client_rejects_certificate: true — client_rejects_certificate: 2 handshakes in scope, all under valid: under valid the client has nothing to reject
            redis-auth: 1 of 3 expectations failed, 1 could not be judged
            """)
    }

    func testSummaries() {
        XCTAssertEqual(VerdictReport.summary([], scenario: "s"), "s: no expectations")
        XCTAssertEqual(VerdictReport.summary([verdicts[0]], scenario: "s"), "s: the expectation held")
        XCTAssertEqual(VerdictReport.summary([verdicts[0], verdicts[0]], scenario: "s"), "s: all 2 expectations held")
        XCTAssertEqual(VerdictReport.summary([verdicts[0], verdicts[2]], scenario: "s"),
                       "s: 1 of 2 expectations could not be judged")
    }

    func testJUnitDocument() {
        XCTAssertEqual(VerdictReport.junitXML(verdicts, scenario: "redis-auth", duration: .milliseconds(55_004)), """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="faultline" tests="3" failures="1" errors="1" time="55.004">
              <testsuite name="redis-auth" tests="3" failures="1" errors="1" skipped="0" time="55.004">
                <testcase classname="redis-auth" name="max_rate: 10 (during: outage, proxy: redis)" time="30.000">
                  <system-out>max_rate 4.0/s ≤ 10/s</system-out>
                </testcase>
                <testcase classname="redis-auth" name="max_connection_attempts: 6 (during: outage)" time="30.250">
                  <failure type="max_connection_attempts" message="max_connection_attempts 7 &gt; 6">max_connection_attempts 7 &gt; 6</failure>
                  <system-out>max_connection_attempts 7 &gt; 6</system-out>
                </testcase>
                <testcase classname="redis-auth" name="client_rejects_certificate: true" time="0.000">
                  <error type="client_rejects_certificate" message="client_rejects_certificate: 2 handshakes in scope, all under valid: under valid the client has nothing to reject">client_rejects_certificate: 2 handshakes in scope, all under valid: under valid the client has nothing to reject</error>
                  <system-out>client_rejects_certificate: 2 handshakes in scope, all under valid: under valid the client has nothing to reject</system-out>
                </testcase>
              </testsuite>
            </testsuites>

            """)
    }

    func testEscaping() {
        XCTAssertEqual(VerdictReport.escape(#"a<b>&"c" 'd'"#), "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;")
        XCTAssertEqual(VerdictReport.escape("line1\nline2\t\u{1}x"), "line1&#10;line2&#9;\u{FFFD}x")
        XCTAssertEqual(VerdictReport.seconds(.zero), "0.000")
        XCTAssertEqual(VerdictReport.seconds(.milliseconds(1_999_999)), "1999.999")
    }

    func testJUnitWithHostileTextParsesBackToTheSameText() throws {
        let label = #"no_request: "GET /a?x=1&y=<2>" (proxy: api's)"#
        let observed = "no_request: 1 request matched \"GET /a?x=1&y=<2>\"\nsecond line \u{7}"
        let xml = VerdictReport.junitXML([Verdict(label: label, kind: "no_request", status: .fail, observed: observed)],
                                         scenario: "weird & <name>", duration: .seconds(1))
        let parsed = try JUnitParse(xml)
        XCTAssertEqual(parsed.suites, ["weird & <name>"])
        XCTAssertEqual(parsed.cases, [label])
        XCTAssertEqual(parsed.classnames, ["weird & <name>"])
        XCTAssertEqual(parsed.failureMessages, ["no_request: 1 request matched \"GET /a?x=1&y=<2>\"\nsecond line \u{FFFD}"])
        XCTAssertEqual(parsed.counts, ["tests": "1", "failures": "1", "errors": "0"])
    }

    func testJUnitOfAnEvaluatedRunIsWellFormed() throws {
        var script = EventScript()
        script.phase("outage", from: 0, to: 10)
        script.refused(at: [1, 2, 3])
        let specs: [ExpectationSpec] = [
            .scalar("max_connection_attempts", .number(2), scope: .during("outage")),
            .scalar("max_rate", .number(10)),
            .scalar("client_rejects_certificate", .flag(true)),
        ]
        let xml = VerdictReport.junitXML(script.verdicts(specs, end: 10), scenario: "s", duration: .seconds(10))
        let parsed = try JUnitParse(xml)
        XCTAssertEqual(parsed.cases.count, 3)
        XCTAssertEqual(parsed.failureMessages, ["max_connection_attempts 3 > 2"])
        XCTAssertEqual(parsed.errorMessages, [
            "client_rejects_certificate: no TLS handshake in scope, though the client opened 3 connections: the proxy may not have tls:",
        ])
    }
}

/// Reads a JUnit document back with a real XML parser: what a CI system would see.
private final class JUnitParse: NSObject, XMLParserDelegate {
    var suites: [String] = []
    var cases: [String] = []
    var classnames: [String] = []
    var failureMessages: [String] = []
    var errorMessages: [String] = []
    var counts: [String: String] = [:]

    init(_ xml: String) throws {
        super.init()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = self
        guard parser.parse() else {
            throw parser.parserError ?? NSError(domain: "JUnitParse", code: 1)
        }
    }

    func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String]) {
        switch element {
        case "testsuite":
            suites.append(attributes["name"] ?? "")
            counts = attributes.filter { ["tests", "failures", "errors"].contains($0.key) }
        case "testcase":
            cases.append(attributes["name"] ?? "")
            classnames.append(attributes["classname"] ?? "")
        case "failure": failureMessages.append(attributes["message"] ?? "")
        case "error": errorMessages.append(attributes["message"] ?? "")
        default: break
        }
    }
}
