import Foundation
import XCTest

/// The shipped startup-race and postgres-slow scenarios (ports moved to free ones) judge the
/// examples' clients as their comments promise: the correct client passes every expectation;
/// a driver without timeouts fails postgres-slow (it waits 5 s per query and never fails); a
/// client retrying at once fails startup-race. (redis-py 8's own default retries back off, so
/// the naive example is no storm there.) The four runs go side by side, each on its own port.
final class ShippedScenarioRunTests: ScenarioRunCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    private struct Plan {
        let scenario: String
        let client: String
        let duration: String
    }

    /// `scenarios/NAME.yaml` with its listen and upstream ports replaced.
    private func shipped(_ name: String, listen: String, upstream: String, redis: UInt16) throws -> (path: String, port: UInt16) {
        let text = try String(contentsOfFile: "\(Self.packageRoot)/scenarios/\(name).yaml", encoding: .utf8)
        let port = try Sock.freePort()
        let yaml = text.replacingOccurrences(of: "listen: 127.0.0.1:\(listen)", with: "listen: 127.0.0.1:\(port)")
            .replacingOccurrences(of: "upstream: 127.0.0.1:\(upstream)", with: "upstream: 127.0.0.1:\(redis)")
        XCTAssertNotEqual(yaml, text, "scenarios/\(name).yaml no longer listens on \(listen) in front of \(upstream)")
        return (try writeScenario("\(name)-\(port)", yaml), port)
    }

    func testShippedStartupRaceAndPostgresSlowJudgeTheExampleClients() throws {
        let redis = try startRedis()
        var plans: [String: [String]] = [:]
        let race = try shipped("startup-race", listen: "16379", upstream: "6379", redis: redis)
        plans["startup-race correct"] = [race.path, "--", try python(), "\(Self.packageRoot)/examples/redis_client_correct.py",
                                         "--port", "\(race.port)", "--duration", "11"]
        let stormRace = try shipped("startup-race", listen: "16379", upstream: "6379", redis: redis)
        plans["startup-race storm"] = [stormRace.path, "--", try python(), client("redis_client.py"), "--port", "\(stormRace.port)",
                                       "--style", "storm", "--timeout", "0.5", "--duration", "11"]
        for example in ["correct", "naive"] {
            let slow = try shipped("postgres-slow", listen: "15432", upstream: "5432", redis: redis)
            plans["postgres-slow \(example)"] = [slow.path, "--", try python(), "\(Self.packageRoot)/examples/redis_client_\(example).py",
                                                  "--port", "\(slow.port)", "--duration", "28"]
        }
        // XCTestCase is not Sendable; each run touches only its own processes.
        let this = UncheckedSendable(self)
        // The storm client must be storming within the 2.1 s redis-down phase: its python starts
        // alone first, so four interpreters loading at once on a busy CI machine cannot push
        // its first request past the phase (it once started after it, at 0 requests/s).
        let stormFirst = plans.sorted { ($0.key != "startup-race storm" ? 1 : 0, $0.key) < ($1.key != "startup-race storm" ? 1 : 0, $1.key) }
        var workers: [(String, Worker<ScenarioRun>)] = []
        for (name, arguments) in stormFirst {
            workers.append((name, Worker("faultline run (\(name))") {
                try this.value.run(arguments[0], command: Array(arguments.dropFirst(2)), timeout: 90)
            }))
            if name == "startup-race storm" { Thread.sleep(forTimeInterval: 3) }
        }
        var runs: [String: ScenarioRun] = [:]
        for (name, worker) in workers { runs[name] = try worker.join(timeout: 120) }

        let raceRate = "max_rate: 10 (during: redis-down, proxy: redis)"
        let raceCorrect = try XCTUnwrap(runs["startup-race correct"])
        XCTAssertEqual(raceCorrect.termination, .exited(0), raceCorrect.transcript)
        assertVerdict(raceCorrect, "PASS", raceRate, figure: "max_rate \(FigureText.rate)/s ≤ 10/s")
        let raceStorm = try XCTUnwrap(runs["startup-race storm"])
        XCTAssertEqual(raceStorm.termination, .exited(1), raceStorm.transcript)
        assertVerdict(raceStorm, "FAIL", raceRate, figure: "max_rate \(FigureText.rate)/s > 10/s \\(\\d+ requests in the second from (?:\(FigureText.measured))\\)")

        let slowQuiet = "quiet_after_failures: {failures: 5, quiet: 700ms} (during: slow, proxy: postgres)"
        let slowCorrect = try XCTUnwrap(runs["postgres-slow correct"])
        XCTAssertEqual(slowCorrect.termination, .exited(0), slowCorrect.transcript)
        assertVerdict(slowCorrect, "PASS", slowQuiet,
                      figure: "quiet_after_failures: 5 failures then quiet for (?:\(FigureText.measured)) ≥ 700ms")
        let slowNaive = try XCTUnwrap(runs["postgres-slow naive"])
        XCTAssertEqual(slowNaive.termination, .exited(1), slowNaive.transcript)
        assertVerdict(slowNaive, "FAIL", slowQuiet, figure: "quiet_after_failures: at most 0 failures in a row, 5 needed")
    }
}
