import Foundation
import XCTest

/// `faultline run` with a `protocol: redis` proxy in front of a password-protected redis-server,
/// `redis.reject_auth` first 3, and expectations on the AUTH commands: redis-py backing off
/// between attempts passes; a client sending AUTH 20 times in a tight loop fails max_requests,
/// the verdict showing the 20 it sent. The two runs go side by side.
final class RedisProtocolScenarioTests: ScenarioRunCase {
    private let password = "scenario-redis-pass"

    private func startPasswordRedis() throws -> UInt16 {
        let server = try TLSTools.require("redis-server", package: "redis-server")
        let imports = try runCommand(try python(), ["-c", "import redis"], timeout: 30)
        guard imports.0 == .exited(0) else { throw XCTSkip("python3 lacks redis: \(imports.stderr)") }
        let port = try Sock.freePort()
        let process = try ChildProcess.spawn(server, [
            "--port", "\(port)", "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no",
        ])
        let ready = waitUntil(timeout: 10) {
            guard let raw = try? RawRedis(port: port, timeout: 1) else { return false }
            defer { raw.close() }
            return (try? raw.call("AUTH", password)) == "+OK\r\n"
        }
        guard ready else { throw RedisStartFailure(port: port, output: process.stdoutText + process.stderrText) }
        return port
    }

    private func scenario(_ name: String, listen: UInt16, redis: UInt16) throws -> String {
        try writeScenario(name, """
            name: \(name)
            seed: 3
            proxies:
              redis:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(redis)
                protocol: redis
            timeline:
              - phase: rejecting
                for: 2s
                faults:
                  - redis.reject_auth: { first: 3 }
            expect:
              - proxy: redis
                max_requests: { limit: 5, command: AUTH }
              - proxy: redis
                first_success_within: 3s
            """)
    }

    func testAuthExpectationsJudgeBackoffAndTightLoopClients() throws {
        let redis = try startPasswordRedis()
        let python = try python()
        var plans: [String: (scenario: String, command: [String])] = [:]
        for (style, arguments) in [("backoff", ["--attempts", "10", "--backoff", "0.1", "--until-ok"]), ("loop", ["--attempts", "20"])] {
            let listen = try Sock.freePort()
            plans[style] = (try scenario("auth-\(style)", listen: listen, redis: redis),
                            [python, client("redis_protocol_client.py"), "auth", "--port", "\(listen)", "--password", password,
                             "--resp", "2"] + arguments)
        }
        let this = UncheckedSendable(self)
        let workers = plans.map { style, plan in
            (style, Worker("faultline run (\(style))") { try this.value.run(plan.scenario, command: plan.command, timeout: 60) })
        }
        var runs: [String: ScenarioRun] = [:]
        for (style, worker) in workers { runs[style] = try worker.join(timeout: 90) }

        let requests = "max_requests: {limit: 5, command: \"AUTH\"} (proxy: redis)"
        let success = "first_success_within: 3s (proxy: redis)"
        let backoff = try XCTUnwrap(runs["backoff"])
        XCTAssertEqual(backoff.termination, .exited(0), backoff.transcript)
        assertVerdict(backoff, "PASS", requests, figure: "max_requests 4 ≤ 5 \\(command AUTH\\)")
        assertVerdict(backoff, "PASS", success, figure: "first_success_within (?:\(FigureText.measured)) ≤ 3s")
        XCTAssertEqual(backoff.stdout.components(separatedBy: "\"error\": \"AuthenticationError\"").count - 1, 3, backoff.transcript)

        let loop = try XCTUnwrap(runs["loop"])
        XCTAssertEqual(loop.termination, .exited(1), loop.transcript)
        assertVerdict(loop, "FAIL", requests, figure: "max_requests 20 > 5 \\(command AUTH\\)")
        assertVerdict(loop, "PASS", success, figure: "first_success_within (?:\(FigureText.measured)) ≤ 3s")
    }
}
