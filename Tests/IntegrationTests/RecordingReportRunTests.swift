import Foundation
import XCTest

/// `faultline report` on a real recording: `faultline run --record` of a short scenario (a real
/// redis-server behind a TCP proxy that cuts connections, the example Redis client), then
/// `faultline report DIR --html F`. The text's figures equal the HTML's figures block, and
/// headless Chromium renders the page to a PNG that is the window's size and not blank.
final class RecordingReportRunTests: ScenarioRunCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    func testReportOfARealRecordingMatchesItsHTMLAndRenders() throws {
        let redis = try startRedis()
        let port = try Sock.freePort()
        let scenario = try writeScenario("report-cutoff", """
            name: report-cutoff
            description: Connections are cut 1 s after they open, then all is well again.
            seed: 7
            proxies:
              redis:
                listen: 127.0.0.1:\(port)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: healthy
                for: 2s
              - phase: cutoffs
                for: 3s
                faults:
                  - tcp.cutoff: { after: 1s }
              - phase: recovery
                for: 2s
            expect:
              - during: cutoffs
                max_connection_attempts: 20
              - during: recovery
                first_success_within: 2s
            """)
        let recording = folder + "/rec"
        let run = try self.run(scenario, ["--record", recording, "--no-capture"],
                               command: [try python(), "\(Self.packageRoot)/examples/redis_client_correct.py", "--port", "\(port)",
                                         "--duration", "7"], timeout: 60)
        XCTAssertEqual(run.termination, .exited(0), run.transcript)

        let html = folder + "/report.html"
        let (ended, text, stderr) = try runCommand(try faultlineBinary(), ["report", recording, "--html", html], timeout: 60)
        XCTAssertEqual(ended, .exited(0), stderr)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let figures = try Self.figuresBlock(page)

        // The header, the phases and the verdicts say what the run said.
        XCTAssertTrue(text.hasPrefix("report-cutoff — Connections are cut"), text)
        XCTAssertTrue(text.contains("seed 7"), text)
        XCTAssertEqual(figures["run.seed"], "7")
        XCTAssertTrue(text.contains("duration \(try XCTUnwrap(figures["run.duration"]))"), text)
        XCTAssertEqual(figures["phase.2.length"], "3.0s", text)
        XCTAssertEqual(figures["command.1.exit"]?.hasPrefix("exited with status 0"), true, text)
        for (number, verdict) in zip(1..., run.verdicts) {
            XCTAssertEqual(figures["verdict.\(number).status"], verdict.word)
            XCTAssertEqual(figures["verdict.\(number).observed"], verdict.figure)
            XCTAssertTrue(text.contains("\(verdict.word)  \(verdict.label) — \(verdict.figure)"), text)
        }
        // The per-phase table of the text, cell by cell, is the HTML's.
        let columns = ["attempts", "requests", "ok", "errors", "faultline", "abandoned", "failed", "p50", "p95", "max"]
        let rows = Self.trafficRows(text, columns: columns.count)
        for (number, phase) in ["healthy", "cutoffs", "recovery"].enumerated() {
            XCTAssertEqual(rows[phase], columns.map { figures["proxy.1.phase.\(number + 1).\($0)"] ?? "?" }, phase)
        }
        XCTAssertEqual(rows["all"], columns.map { figures["proxy.1.all.\($0)"] ?? "?" })
        XCTAssertGreaterThan(Int(figures["proxy.1.phase.1.ok"] ?? "") ?? 0, 0, text)
        XCTAssertGreaterThan(Int(figures["fault.1.fired"] ?? "") ?? 0, 0, text)
        XCTAssertTrue(text.contains("tcp.cutoff"), text)
        // The cutoff phase's verdict and the report count the same attempts.
        if let observed = figures["verdict.1.observed"], observed.hasPrefix("max_connection_attempts ") {
            XCTAssertTrue(observed.hasPrefix("max_connection_attempts \(figures["proxy.1.phase.2.attempts"] ?? "?") "), observed)
        }
        try assertRenders(html)
    }

    /// Headless Chromium screenshots the page at 1366×900: the PNG has that size and more
    /// than a handful of colours (bands, bars, text), so it is no blank or error page.
    private func assertRenders(_ html: String) throws {
        guard let chromium = Self.which("chromium") else { throw XCTSkip("chromium is not on PATH") }
        let png = folder + "/report.png"
        let (ended, _, stderr) = try runCommand(chromium, [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(folder)/chromium",
            "--screenshot=\(png)", "--window-size=1366,900", "file://\(html)",
        ], timeout: 90)
        XCTAssertEqual(ended, .exited(0), stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png), stderr)
        let (decoded, summary, errors) = try runCommand(try python(), ["-c", Self.pngProbe, png], timeout: 30)
        XCTAssertEqual(decoded, .exited(0), errors)
        let parts = summary.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(parts.count, 3, summary)
        guard parts.count == 3 else { return }
        XCTAssertEqual(parts[0], 1366)
        XCTAssertEqual(parts[1], 900)
        XCTAssertGreaterThan(parts[2], 8, "the screenshot is nearly blank")
    }

    /// Python (standard library only): a PNG's width, height and number of distinct colours.
    private static let pngProbe = #"""
    import struct, sys, zlib
    data = open(sys.argv[1], "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    previous, colours, at = bytearray(stride), set(), 0
    for _ in range(height):
        kind, row = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1: row[i] = (row[i] + a) & 255
            elif kind == 2: row[i] = (row[i] + b) & 255
            elif kind == 3: row[i] = (row[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(row[i:i + 3]) for i in range(0, stride, bpp * 7))
        previous = row
    print(width, height, len(colours))
    """#

    /// The HTML's `<script type="application/json" id="figures">` block.
    static func figuresBlock(_ html: String) throws -> [String: String] {
        let start = try XCTUnwrap(html.range(of: "<script type=\"application/json\" id=\"figures\">"))
        let end = try XCTUnwrap(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let object = try JSONSerialization.jsonObject(with: Data(html[start.upperBound..<end.lowerBound].utf8))
        return try XCTUnwrap(object as? [String: String])
    }

    /// The text's traffic rows by phase label (the cells after it), from tables of `columns` figures.
    static func trafficRows(_ text: String, columns: Int) -> [String: [String]] {
        var rows: [String: [String]] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("  ") {
            let cells = line.split(separator: " ").map(String.init)
            guard cells.count == columns + 1, cells[1] != "attempts" else { continue }
            rows[cells[0]] = Array(cells.dropFirst())
        }
        return rows
    }
}
