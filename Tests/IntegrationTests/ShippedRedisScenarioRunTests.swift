import Foundation
import XCTest

/// The shipped Redis scenarios (ports moved to free ones, a real redis-server behind them) judge
/// the example clients as their comments promise: redis-auth-rejection (rediss://, the first
/// three AUTH attempts answered NOAUTH) passes examples/redis_auth_client.py, which backs off
/// and authenticates, and fails it with --give-up-after 3 (the incident's client, which falls
/// back for good); redis-loading (LOADING for 5 s) passes the correct client and fails the
/// naive one, which retries at once. The four runs go side by side.
final class ShippedRedisScenarioRunTests: ScenarioRunCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    private func shipped(_ name: String, listen: String, redis: UInt16) throws -> (path: String, port: UInt16) {
        let text = try String(contentsOfFile: "\(Self.packageRoot)/scenarios/\(name).yaml", encoding: .utf8)
        let port = try Sock.freePort()
        let yaml = text.replacingOccurrences(of: "listen: 127.0.0.1:\(listen)", with: "listen: 127.0.0.1:\(port)")
            .replacingOccurrences(of: "upstream: 127.0.0.1:6379", with: "upstream: 127.0.0.1:\(redis)")
        XCTAssertNotEqual(yaml, text, "scenarios/\(name).yaml no longer listens on \(listen) in front of 6379")
        return (try writeScenario("\(name)-\(port)", yaml), port)
    }

    func testRedisScenariosJudgeTheExampleClients() throws {
        let redis = try startRedis()
        let workspace = try TLSWorkspace()
        let bundle = try workspace.certs(profile: "valid", hosts: ["localhost"], out: "certs")
        let python = try python()
        var plans: [String: (scenario: String, command: [String])] = [:]
        for style in ["correct", "gives-up"] {
            let auth = try shipped("redis-auth-rejection", listen: "16381", redis: redis)
            plans["auth \(style)"] = (auth.path, [python, "\(Self.packageRoot)/examples/redis_auth_client.py", "--ca", bundle.ca,
                                                  "--port", "\(auth.port)", "--duration", "12"]
                                                 + (style == "gives-up" ? ["--give-up-after", "3"] : []))
        }
        for style in ["correct", "naive"] {
            let loading = try shipped("redis-loading", listen: "16382", redis: redis)
            plans["loading \(style)"] = (loading.path, [python, "\(Self.packageRoot)/examples/redis_client_\(style).py",
                                                        "--port", "\(loading.port)", "--duration", "12"])
        }
        let this = UncheckedSendable(self)
        let workers = plans.map { name, plan in
            (name, Worker("faultline run (\(name))") {
                try this.value.run(plan.scenario, command: plan.command, in: workspace.directory, timeout: 60)
            })
        }
        var runs: [String: ScenarioRun] = [:]
        for (name, worker) in workers { runs[name] = try worker.join(timeout: 90) }

        let attempts = "max_auth_attempts: 4 (during: auth-rejected, proxy: redis)"
        let authSuccess = "first_success_within: 7s (during: auth-rejected, proxy: redis)"
        let authCorrect = try XCTUnwrap(runs["auth correct"])
        XCTAssertEqual(authCorrect.termination, .exited(0), authCorrect.transcript)
        assertVerdict(authCorrect, "PASS", attempts, figure: "max_auth_attempts 4 ≤ 4")
        assertVerdict(authCorrect, "PASS", authSuccess, figure: "first_success_within (?:\(FigureText.measured)) ≤ 7s")
        for attempt in 1...3 {
            XCTAssertTrue(authCorrect.stdout.contains("error AuthenticationError: Authentication required. (attempt \(attempt); next try in"),
                          authCorrect.transcript)
        }
        XCTAssertTrue(authCorrect.stdout.contains("authenticated (attempt 4)"), authCorrect.transcript)
        let authGivesUp = try XCTUnwrap(runs["auth gives-up"])
        XCTAssertEqual(authGivesUp.termination, .exited(1), authGivesUp.transcript)
        assertVerdict(authGivesUp, "PASS", attempts, figure: "max_auth_attempts 3 ≤ 4")
        assertVerdict(authGivesUp, "FAIL", authSuccess,
                      figure: "first_success_within: no success in the (?:\(FigureText.measured)) to the end of the run \\(limit 7s\\)")

        let rate = "max_rate: 10 (during: loading, proxy: redis)"
        let quiet = "quiet_after_failures: {failures: 5, quiet: 700ms} (during: loading, proxy: redis)"
        let loadingCorrect = try XCTUnwrap(runs["loading correct"])
        XCTAssertEqual(loadingCorrect.termination, .exited(0), loadingCorrect.transcript)
        assertVerdict(loadingCorrect, "PASS", quiet,
                      figure: "quiet_after_failures: 5 failures then quiet for (?:\(FigureText.measured)) ≥ 700ms")
        XCTAssertTrue(loadingCorrect.stdout.contains("BusyLoadingError: Redis is loading the dataset in memory"), loadingCorrect.transcript)
        let loadingNaive = try XCTUnwrap(runs["loading naive"])
        XCTAssertEqual(loadingNaive.termination, .exited(1), loadingNaive.transcript)
        assertVerdict(loadingNaive, "FAIL", rate, figure: "max_rate \(FigureText.rate)/s > 10/s \\(\\d+ requests in the second from (?:\(FigureText.measured))\\)")
        workspace.remove()
    }
}
