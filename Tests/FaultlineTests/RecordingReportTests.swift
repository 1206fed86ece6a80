import Foundation
import XCTest
@testable import Faultline

/// `faultline report`'s library: a synthesized recording read back into exact figures, lines
/// that are not events, a file cut by SIGKILL, hostile names in the HTML, and the text and
/// HTML reports showing the same numbers.
final class RecordingReportTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "faultline-report-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try #"{"v":1,"faultline":"0.1.0","command":"run","started":"2026-12-01T00:45:09.123456Z","seed":42,"capture":true,"captureLimit":256000000,"redacted":true}"#
            .appending("\n").write(toFile: folder + "/recording.json", atomically: true, encoding: .utf8)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// One event line as `EventLog` writes it.
    private func line(_ time: Double, _ kind: String, _ members: String = "") -> String {
        #"{"v":1,"time":\#(String(format: "%.6f", time)),"wall":"2026-12-01T00:45:09.123456Z","kind":"\#(kind)""#
            + (members.isEmpty ? "" : "," + members) + "}"
    }

    private func write(_ lines: [String], ending: String = "\n") throws -> RecordingSummary {
        try (lines.joined(separator: "\n") + ending).write(toFile: folder + "/events.jsonl", atomically: true, encoding: .utf8)
        return try RecordingReport.load(directory: folder)
    }

    /// A Redis proxy through two phases: answers, errors from the upstream and from faultline,
    /// a request cut by a fault, a connection that never reached the upstream.
    private var redisRun: [String] {
        let redis = #""proxy":"redis""#
        return [
            line(0.001, "listening", #"\#(redis),"address":"127.0.0.1:16379""#),
            line(0.002, "phaseStarted", #""name":"healthy""#),
            line(0.003, "commandStarted", #""command":"client --port 16379","pid":4242"#),
            line(0.100, "connectionOpened", #"\#(redis),"link":1"#),
            line(0.101, "upstreamConnected", #"\#(redis),"link":1"#),
            line(0.200, "requestStarted", #"\#(redis),"link":1,"detail":"GET a""#),
            line(0.201, "requestStarted", #"\#(redis),"link":1,"detail":"GET b""#),
            line(0.202, "requestStarted", #"\#(redis),"link":1,"detail":"GET c""#),
            line(0.210, "requestAnswered", #"\#(redis),"link":1,"byFaultline":false,"latency":0.010000,"handshake":false"#),
            line(0.230, "requestAnswered", #"\#(redis),"link":1,"error":"LOADING","byFaultline":false,"latency":0.029000,"handshake":false"#),
            line(0.302, "requestAnswered", #"\#(redis),"link":1,"error":"NOAUTH","byFaultline":true,"latency":0.100000,"handshake":false"#),
            line(2.000, "phaseEnded", #""name":"healthy""#),
            line(2.000, "phaseStarted", #""name":"outage""#),
            line(2.000, "faultOn", #"\#(redis),"name":"cut","faultKind":"tcp.cutoff""#),
            line(2.500, "connectionOpened", #"\#(redis),"link":2"#),
            line(2.501, "upstreamConnected", #"\#(redis),"link":2"#),
            line(2.600, "faultApplied", #"\#(redis),"link":2,"name":"cut","faultKind":"tcp.cutoff""#),
            line(2.700, "requestStarted", #"\#(redis),"link":2,"detail":"GET d""#),
            line(3.000, "faultFired", #"\#(redis),"link":2,"name":"cut","faultKind":"tcp.cutoff","action":"cut""#),
            line(3.001, "connectionClosed", #"\#(redis),"link":2,"bytesUp":10,"bytesDown":0,"reset":true"#),
            line(3.500, "connectionOpened", #"\#(redis),"link":3"#),
            line(3.600, "upstreamFailed", #"\#(redis),"link":3,"reason":"Connection refused""#),
            line(3.601, "connectionClosed", #"\#(redis),"link":3,"bytesUp":0,"bytesDown":0,"reset":false"#),
            line(4.000, "faultOff", #"\#(redis),"name":"cut","faultKind":"tcp.cutoff""#),
            line(4.000, "phaseEnded", #""name":"outage""#),
            line(4.100, "connectionClosed", #"\#(redis),"link":1,"bytesUp":30,"bytesDown":40,"reset":false"#),
            line(4.200, "commandExited", #""exit":"exited","status":3"#),
            line(4.300, "verdict", #""label":"max_connection_attempts: 6 (during: outage, proxy: redis)","expectation":"max_connection_attempts","status":"pass","observed":"max_connection_attempts 2 ≤ 6""#),
        ]
    }

    func testSynthesizedRecordingGivesExactFigures() throws {
        let summary = try write(redisRun)
        let figures = Dictionary(RecordingReport.figures(summary).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(summary.phases.map(\.name), ["healthy", "outage"])
        XCTAssertEqual(figures["run.duration"], "4.3s")
        XCTAssertEqual(figures["run.seed"], "42")
        XCTAssertEqual(figures["run.events"], "28")
        // healthy: 3 requests, one answered, one LOADING from Redis, one NOAUTH from faultline.
        let healthy = ["attempts": "1", "requests": "3", "ok": "1", "errors": "1", "faultline": "1", "abandoned": "0", "failed": "0",
                       "p50": "29.0ms", "p95": "100ms", "max": "100ms"]
        for (column, value) in healthy { XCTAssertEqual(figures["proxy.1.phase.1.\(column)"], value, column) }
        // outage: the cut request fails, the refused connection is a request that failed.
        let outage = ["attempts": "2", "requests": "2", "ok": "0", "failed": "2", "p50": "-"]
        for (column, value) in outage { XCTAssertEqual(figures["proxy.1.phase.2.\(column)"], value, column) }
        XCTAssertEqual(figures["proxy.1.all.requests"], "5")
        XCTAssertEqual(figures["phase.2.start"], "2.0s")
        XCTAssertEqual(figures["phase.2.length"], "2.0s")
        XCTAssertEqual(figures["fault.1.on"], "2.0s–4.0s")
        XCTAssertEqual(figures["fault.1.applied"], "1")
        XCTAssertEqual(figures["fault.1.fired.cut"], "1")
        XCTAssertEqual(figures["command.1.exit"], "exited with status 3 at 4.2s")
        XCTAssertEqual(figures["verdict.1.status"], "PASS")
        XCTAssertEqual(summary.proxies.first?.errors.map(\.code), ["LOADING", "NOAUTH"])
        XCTAssertEqual(summary.proxies.first?.upstreamFailures.first?.reason, "Connection refused")
        XCTAssertEqual(summary.proxies.first?.total.resets, 1)

        let text = RecordingReport.text(summary)
        XCTAssertTrue(text.contains("  healthy        1        3  1     1         1         0      0 29.0ms 100ms 100ms"), text)
        XCTAssertTrue(text.contains("  outage         2        2  0     0         0         0      2      -     -     -"), text)
        XCTAssertTrue(text.contains("  redis cut   tcp.cutoff 2.0s–4.0s       1     1 cut 1"), text)
        XCTAssertTrue(text.contains("  PASS  max_connection_attempts: 6 (during: outage, proxy: redis) — max_connection_attempts 2 ≤ 6"), text)
        XCTAssertTrue(text.contains("Command: client --port 16379 (pid 4242) at 0.0s — exited with status 3 at 4.2s"), text)
        XCTAssertFalse(text.contains("Notes"), text)
    }

    func testGarbageLinesAreCountedAndSkippedOnce() throws {
        var lines = redisRun
        lines.insert("not json at all", at: 3)
        lines.insert(#"{"v":1,"time":"soon","kind":"connectionOpened","proxy":"redis","link":9}"#, at: 5)
        lines.insert("\u{1}\u{2}{{{[[[\"", at: 7)
        lines.insert(#"{"v":1,"time":1.0,"kind":"connectionOpened","proxy":"redis","link":9,}"#, at: 9)
        lines.insert(line(1.5, "somethingNew", #""proxy":"redis""#), at: 10)
        lines.insert("", at: 11)
        let summary = try write(lines)
        XCTAssertEqual(summary.lines.bad, 4)
        XCTAssertEqual(summary.lines.firstBad, 4)
        XCTAssertEqual(summary.lines.unknownKinds, 1)
        XCTAssertEqual(RecordingReport.figures(summary).first { $0.name == "proxy.1.all.requests" }?.value, "5")
        let text = RecordingReport.text(summary)
        XCTAssertEqual(text.components(separatedBy: "could not be read").count, 2, text)
        XCTAssertTrue(text.contains("events.jsonl: 4 lines could not be read and were skipped (first: line 4)"), text)
    }

    func testPartialLastLineIsIgnoredAndSaid() throws {
        let summary = try write(redisRun + [#"{"v":1,"time":4.400000,"wall":"2026-12-01T00:45:09.1"#], ending: "")
        XCTAssertTrue(summary.lines.partialLast)
        XCTAssertEqual(summary.lines.bad, 0)
        XCTAssertEqual(summary.lines.events, 28)
        XCTAssertTrue(RecordingReport.text(summary).contains("events.jsonl ends in a cut line"))
        XCTAssertTrue(RecordingReport.html(summary).contains("events.jsonl ends in a cut line"))
    }

    func testHostileNamesAreEscapedInHTML() throws {
        let proxy = #"<script>alert(1)</script>"#
        let phase = #""><img src=x onerror=alert(2)>"#
        let escapedProxy = try XCTUnwrap(String(data: JSONEncoder().encode(proxy), encoding: .utf8))
        let escapedPhase = try XCTUnwrap(String(data: JSONEncoder().encode(phase), encoding: .utf8))
        let summary = try write([
            line(0.1, "phaseStarted", #""name":\#(escapedPhase)"#),
            line(0.2, "connectionOpened", #""proxy":\#(escapedProxy),"link":1"#),
            line(0.3, "faultFired", #""proxy":\#(escapedProxy),"link":1,"name":"a&b</title>","faultKind":"tcp.cutoff","action":"<b>cut</b>""#),
            line(0.4, "tlsHandshakeFailed", #""proxy":\#(escapedProxy),"link":1,"profile":"<i>","reason":"x","alert":"</svg><script>alert(3)</script>""#),
            line(0.5, "verdict", #""label":"<script>alert(4)</script>","expectation":"x","status":"fail","observed":"</script><script>alert(5)</script>""#),
            line(0.6, "commandStarted", #""command":"sh -c '<iframe>'","pid":1"#),
        ])
        let html = RecordingReport.html(summary)
        for needle in ["<script>alert", "<img", "<iframe", "<b>cut", "<i>", "a&b", "</title>\","] {
            XCTAssertFalse(html.contains(needle), needle)
        }
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"))
        XCTAssertEqual(html.components(separatedBy: "<script").count, 2, "only the figures block is a script element")
        XCTAssertEqual(html.components(separatedBy: "</script>").count, 2)
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http"),
                       "nothing fetched from the network")
    }

    func testTextAndHTMLShowTheSameFigures() throws {
        let summary = try write(redisRun)
        let html = RecordingReport.html(summary)
        let block = try Self.figuresBlock(html)
        let figures = RecordingReport.figures(summary)
        XCTAssertEqual(block.count, figures.count)
        for (name, value) in figures {
            XCTAssertEqual(block[name], value, name)
            // Every figure the page shows carries its name, with the same value.
            let attribute = "data-figure=\"\(name)\">\(value)<"
            if !name.hasPrefix("run.bad_lines") { XCTAssertTrue(html.contains(attribute), attribute) }
        }
        // The text's phase tables, read back, hold the same numbers.
        let text = RecordingReport.text(summary)
        let rows = Self.trafficRows(text)
        XCTAssertEqual(rows["healthy"], ReportFigures.trafficColumns.map { block["proxy.1.phase.1.\($0.key)"] ?? "?" })
        XCTAssertEqual(rows["outage"], ReportFigures.trafficColumns.map { block["proxy.1.phase.2.\($0.key)"] ?? "?" })
        XCTAssertEqual(rows["all"], ReportFigures.trafficColumns.map { block["proxy.1.all.\($0.key)"] ?? "?" })
        XCTAssertTrue(text.contains("duration \(block["run.duration"] ?? "?")"))
    }

    func testNotARecordingNamesTheFolder() {
        XCTAssertThrowsError(try RecordingReport.load(directory: folder + "/nope")) { error in
            XCTAssertTrue("\(error)".contains(folder + "/nope"), "\(error)")
        }
        let empty = folder + "/empty"
        XCTAssertNoThrow(try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true))
        XCTAssertThrowsError(try RecordingReport.load(directory: empty)) { error in
            XCTAssertTrue("\(error)".contains("is not a recording"), "\(error)")
        }
    }

    func testScannerDecodesEscapesAndRefusesBrokenOnes() {
        func decode(_ json: String) -> String?? {
            var result: String?? = .none
            let bytes = Array(json.utf8)
            let ok = bytes.withUnsafeBufferPointer { line in
                EventLineScanner.scan(line) { _, value in result = .some(EventLineScanner.text(line, value)) }
            }
            return ok ? result : .none
        }
        XCTAssertEqual(decode(#"{"k":"a\"b\\c\n\u00e9\ud83d\ude00\u003c"}"#), .some("a\"b\\c\né😀<"))
        XCTAssertEqual(decode(#"{"k":"\ud83d"}"#), .some(nil), "a lone surrogate is no text")
        XCTAssertNil(decode(#"{"k":"open}"#) as String??)
        XCTAssertNotNil(decode(#"{"k":{"nested":[1,2,{"x":"}"}]},"m":"v"}"#) as String??)
    }

    func testLatencyBinsPercentilesAreClose() {
        var bins = LatencyBins()
        for micros in 1...1000 { bins.observe(Int64(micros) * 1000) }
        let p50 = Double(bins.percentile(0.5) ?? 0), p95 = Double(bins.percentile(0.95) ?? 0)
        XCTAssertEqual(p50, 500_000, accuracy: 500_000 * 0.05)
        XCTAssertEqual(p95, 950_000, accuracy: 950_000 * 0.05)
        XCTAssertEqual(bins.max, 1_000_000)
    }

    // MARK: Helpers

    /// The HTML's `<script type="application/json" id="figures">` block.
    static func figuresBlock(_ html: String) throws -> [String: String] {
        let start = try XCTUnwrap(html.range(of: "<script type=\"application/json\" id=\"figures\">"))
        let end = try XCTUnwrap(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let object = try JSONSerialization.jsonObject(with: Data(html[start.upperBound..<end.lowerBound].utf8))
        return try XCTUnwrap(object as? [String: String])
    }

    /// The text's traffic rows by phase label: the cells after the label.
    static func trafficRows(_ text: String) -> [String: [String]] {
        var rows: [String: [String]] = [:]
        let count = ReportFigures.trafficColumns.count
        for line in text.split(separator: "\n") where line.hasPrefix("  ") {
            let cells = line.split(separator: " ").map(String.init)
            guard cells.count == count + 1, cells[1] != "attempts" else { continue }
            rows[cells[0]] = Array(cells.dropFirst())
        }
        return rows
    }
}
