import Foundation
import XCTest

/// The shipped scenarios/redis-idle-cutoff.yaml (ports moved to free ones) judging a real
/// pooled redis-py client: requests on one kept connection are what counts, so a healthy pooled
/// client passes, a client without timeouts hangs on its first dropped connection and fails
/// `first_success_within`, and a client that retries at once fails `max_connection_attempts`
/// while nothing passes. The three 22 s runs go side by side, each with its own proxy port.
final class ScenarioPooledClientRunTests: ScenarioRunCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    private let cutoffsLabel = "max_connection_attempts: 10 (during: cutoffs, proxy: redis)"
    private let stallLabel = "max_connection_attempts: 12 (during: stall, proxy: redis)"
    private let recoveryLabel = "first_success_within: 2s (during: recovery, proxy: redis)"

    func testPooledClientsAgainstTheShippedIdleCutoffScenario() throws {
        let redis = try startRedis()
        let shipped = try String(contentsOfFile: "\(Self.packageRoot)/scenarios/redis-idle-cutoff.yaml", encoding: .utf8)
        let styles = ["correct", "hang", "storm"]
        var commands: [(scenario: String, command: [String])] = []
        for style in styles {
            let listen = try Sock.freePort()
            let yaml = shipped.replacingOccurrences(of: "127.0.0.1:16379", with: "127.0.0.1:\(listen)")
                .replacingOccurrences(of: "127.0.0.1:6379", with: "127.0.0.1:\(redis)")
            XCTAssertNotEqual(yaml, shipped, "the shipped scenario no longer names 127.0.0.1:16379 and :6379")
            let scenario = try writeScenario("idle-cutoff-\(style)", yaml)
            commands.append((scenario, [try python(), client("pooled_client.py"), "--port", "\(listen)",
                                        "--style", style, "--duration", "21"]))
        }
        // XCTestCase is not Sendable; each run touches only its own processes.
        let this = UncheckedSendable(self)
        let workers = zip(styles, commands).map { style, planned in
            Worker("faultline run (\(style))") { try this.value.run(planned.scenario, command: planned.command, timeout: 90) }
        }
        var runs: [String: ScenarioRun] = [:]
        for (style, worker) in zip(styles, workers) { runs[style] = try worker.join(timeout: 120) }

        let correct = try XCTUnwrap(runs["correct"])
        XCTAssertEqual(correct.termination, .exited(0), correct.transcript)
        assertVerdict(correct, "PASS", cutoffsLabel, figure: "max_connection_attempts \(FigureText.count) ≤ 10")
        assertVerdict(correct, "PASS", stallLabel, figure: "max_connection_attempts \(FigureText.count) ≤ 12")
        assertVerdict(correct, "PASS", recoveryLabel, figure: "first_success_within (?:\(FigureText.measured)) ≤ 2s")
        // One connection served the healthy phase's PINGs: requests, not connections, count.
        XCTAssertGreaterThan(correct.stdout.components(separatedBy: " ok\n").count, 20, correct.transcript)

        let hang = try XCTUnwrap(runs["hang"])
        XCTAssertEqual(hang.termination, .exited(1), hang.transcript)
        assertVerdict(hang, "FAIL", recoveryLabel, figure: "first_success_within: no success in the (?:\(FigureText.measured)) to the end of the run \\(limit 2s\\)")

        let storm = try XCTUnwrap(runs["storm"])
        XCTAssertEqual(storm.termination, .exited(1), storm.transcript)
        assertVerdict(storm, "FAIL", stallLabel, figure: "max_connection_attempts \(FigureText.count) > 12")
        assertVerdict(storm, "PASS", recoveryLabel, figure: "first_success_within (?:\(FigureText.measured)) ≤ 2s")
    }
}
