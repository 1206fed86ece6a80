import Foundation
import XCTest

/// `faultline serve` answers the Toxiproxy 2.12 control API as Toxiproxy does: the 232 steps of
/// Tests/clients/toxiproxy_api.py (every endpoint and error path, listen-port probes) compared
/// with Toxiproxy's own answers recorded in Tests/fixtures/toxiproxy/answers.json — status,
/// headers, JSON key order, exact bytes — apart from faultline's declared differences
/// (faultline-differences.json: each one still compared exactly, against the declared answer;
/// one that no longer happens is a mismatch too). Needs python3 only (standard library).
final class ToxiproxyFixtureTests: IntegrationCase {
    private static let root = ScenarioRunCase.packageRoot
    private static let script = "\(root)/Tests/clients/toxiproxy_api.py"
    private static let fixture = "\(root)/Tests/fixtures/toxiproxy/answers.json"
    private static let differences = "\(root)/Tests/fixtures/toxiproxy/faultline-differences.json"

    func testServeAnswersTheRecordedToxiproxySequence() throws {
        guard let python = ScenarioRunCase.which("python3") else { throw XCTSkip("python3 is not installed") }
        // Port 0: the kernel picks a free port and faultline logs the one it got (no race for a
        // guessed free port). The script's own proxy ports come from 24000-24199.
        let server = try ChildProcess.spawn(try faultlineBinary(), ["serve", "--api", "127.0.0.1:0"])
        var url: String?
        _ = waitUntil(timeout: 20) {
            url = Self.apiURL(in: server.stderrText)
            return url != nil || !server.isRunning
        }
        guard let url else {
            return XCTFail("faultline serve did not log 'API listening on'; \(server.termination.map { "\($0); " } ?? "")stderr:\n\(server.stderrText)")
        }

        let (ended, stdout, stderr) = try runCommand(
            python, [Self.script, "compare", "--url", url, "--fixture", Self.fixture, "--differences", Self.differences],
            timeout: 300)
        let output = "toxiproxy_api.py compare (\(ended.map { "\($0)" } ?? "no end")):\n\(stdout)\(stderr.isEmpty ? "" : "stderr:\n\(stderr)")"
        XCTAssertEqual(ended, .exited(0), output)
        XCTAssertEqual(stdout.split(separator: "\n").last.map(String.init), "232 steps, 0 mismatches", output)

        XCTAssertTrue(server.isRunning, "faultline serve ended during the comparison: \(server.termination.map { "\($0)" } ?? "")\n\(server.stderrText)")
        XCTAssertEqual(server.stop(grace: 5), .exited(0), server.stderrText)
    }

    /// `http://HOST:PORT` from the line `… API listening on http://HOST:PORT`.
    private static func apiURL(in log: String) -> String? {
        guard let start = log.range(of: "API listening on ")?.upperBound else { return nil }
        let url = log[start...].prefix { !$0.isWhitespace }
        // Only a whole line: a port still being written would read as another port.
        guard url.endIndex < log.endIndex, let colon = url.lastIndex(of: ":"), UInt16(url[url.index(after: colon)...]) != nil else { return nil }
        return String(url)
    }
}
