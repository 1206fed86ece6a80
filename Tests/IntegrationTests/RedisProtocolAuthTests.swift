import Foundation
import XCTest

/// `redis.reject_auth` as real clients meet it, against a password-protected redis-server:
/// redis-cli and redis-py (AUTH under RESP2, HELLO 3 AUTH under its default RESP3) are turned
/// away exactly `first` times with the injected text, then authenticate for real; redis.asyncio
/// survives with its own Retry; pybreaker opens on injected LOADING and stops sending.
final class RedisProtocolAuthTests: RedisProtocolCase {
    func testRedisCLIIsRejectedExactlyThreeTimesThenAuthenticates() throws {
        try checkRedisCLIRejectedThenAccepted(tls: false)
    }

    func testRedisPyRaisesAuthenticationErrorWithTheInjectedTextThreeTimes() throws {
        try checkRedisPyRejectedThenAccepted(tls: false)
    }

    func testWrongpassPresetIsRedisOwnTextByteForByte() throws {
        try checkWrongpassPreset(tls: false)
    }

    /// `per: client` counts attempts per client address, across its connections (every test
    /// client is 127.0.0.1, so the count is one address's). A custom text without a code gets
    /// Redis's `ERR ` in front.
    func testPerClientCountsAcrossConnectionsOfOneAddress() throws {
        let proxy = try startProxy(["redis.reject_auth:first=2,per=client,error=auth backend unavailable"])
        let outcomes = try python("auth", port: proxy.port, ["--attempts", "4", "--resp", "2"])
        XCTAssertEqual(outcomes.map { $0["error"] as? String ?? "ok" },
                       ["ResponseError", "ResponseError", "ok", "ok"], "\(outcomes)")
        XCTAssertEqual(outcomes.first?["message"] as? String, "auth backend unavailable")
        let connection = try raw(port: proxy.port)
        XCTAssertEqual(try connection.call("AUTH", Self.password), "+OK\r\n", "the third attempt of this address passes")
    }

    /// What the proxy reports names each command and never a credential: redis-py's HELLO 3
    /// AUTH default PASS is `HELLO 3 AUTH`, rejected once by faultline, then accepted by Redis.
    func testEventsNameCommandsWithoutCredentials() throws {
        let (proxy, events) = try inProcessProxy(["redis.reject_auth:first=1"])
        defer { proxy.stop() }
        let outcomes = try python("auth", port: proxy.port, ["--attempts", "2"])
        XCTAssertEqual(outcomes.map { $0["error"] as? String ?? "ok" }, ["AuthenticationError", "ok"])
        let raw = try raw(port: proxy.port)
        XCTAssertEqual(try raw.call("AUTH", "default", Self.password), "+OK\r\n")
        raw.close()
        XCTAssertTrue(waitUntil(timeout: 2) { events.requests.last == "AUTH" }, "\(events.requests)")
        XCTAssertEqual(Array(events.requests.prefix(2)), ["HELLO 3 AUTH", "HELLO 3 AUTH"])
        XCTAssertTrue(events.requests.contains("PING"), "\(events.requests)")
        XCTAssertEqual(events.answers.first, "NOAUTH from faultline")
        XCTAssertEqual(events.answers.dropFirst().first, .some(nil), "the second HELLO went to Redis")
        let everything = events.all.map { "\($0)" }.joined(separator: "\n")
        XCTAssertFalse(everything.contains(Self.password), everything)
    }

    /// redis.asyncio with `Retry(ExponentialBackoff(), 3)` (redis.asyncio's own Retry class)
    /// retries the rejected handshake twice and then works; with one retry it gives up with
    /// the injected error.
    func testAsyncioRetrySurvivesTwoRejections() throws {
        let proxy = try startProxy(["redis.reject_auth:first=2"])
        let survived = try pythonOne("async", port: proxy.port, ["--retries", "3"])
        XCTAssertEqual(survived["ok"] as? Bool, true, "\(survived)")
        XCTAssertEqual(survived["value"] as? String, "async-value")
        XCTAssertEqual(survived["retries"] as? Int, 2, "one retry per rejected attempt: \(survived)")
        XCTAssertEqual(try direct("GET", "async:key"), bulk("async-value"), "the SET reached redis-server")

        let strict = try startProxy(["redis.reject_auth:first=2"])
        let gaveUp = try pythonOne("async", port: strict.port, ["--retries", "1"])
        XCTAssertEqual(gaveUp["ok"] as? Bool, false, "\(gaveUp)")
        XCTAssertEqual(gaveUp["error"] as? String, "AuthenticationError")
        XCTAssertEqual(gaveUp["message"] as? String, "Authentication required.")
        XCTAssertEqual(gaveUp["retries"] as? Int, 1)
    }

    /// pybreaker (fail_max 3, reset 0.5 s) around redis-py GETs that meet injected LOADING:
    /// redis-py raises BusyLoadingError with Redis's text, the third failure opens the breaker,
    /// and from then on only the half-open probes reach the proxy (counted there, from its
    /// events), not the 40 calls the application made.
    func testBreakerOpensAfterInjectedLoadingAndStopsSending() throws {
        let (proxy, events) = try inProcessProxy(["redis.error:error=LOADING,commands=GET"])
        defer { proxy.stop() }
        let started = monotonicSeconds()
        let result = try pythonOne("breaker", port: proxy.port, ["--fail-max", "3", "--reset", "0.5", "--calls", "40",
                                                                "--interval", "0.025"])
        let elapsed = monotonicSeconds() - started
        let outcomes = try XCTUnwrap(result["outcomes"] as? [String], "\(result)")
        // pybreaker raises CircuitBreakerError from the call that trips it.
        XCTAssertEqual(Array(outcomes.prefix(3)), ["loading", "loading", "open"], "\(outcomes)")
        XCTAssertEqual(result["message"] as? String, "Redis is loading the dataset in memory")
        XCTAssertFalse(outcomes.contains("ok"), "every GET met LOADING")
        XCTAssertEqual(result["state"] as? String, "open")
        let gets = events.requests.filter { $0 == "GET breaker:key" }.count
        XCTAssertEqual(gets, result["reached"] as? Int, "GETs the proxy saw vs. calls the breaker let through")
        // 3 to open, then one probe per 0.5 s of the run at most.
        XCTAssertLessThanOrEqual(gets, 3 + Int(elapsed / 0.5) + 1, "the breaker kept sending: \(gets) GETs in \(elapsed) s")
        XCTAssertGreaterThanOrEqual(gets, 4, "no half-open probe after 0.5 s")
        XCTAssertEqual(events.answers.filter { $0 == "LOADING from faultline" }.count, gets)
    }
}

extension RedisProtocolCase {
    /// redis-cli -a PASS PING four times: three meet the injected NOAUTH (redis-cli warns and
    /// sends PING unauthenticated, which the real Redis refuses), the fourth gets PONG.
    func checkRedisCLIRejectedThenAccepted(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy(["redis.reject_auth:first=3"], tls: tls)
        for attempt in 1...3 {
            let result = try cli(port: proxy.port, tls: tls, ["ping"])
            XCTAssertEqual(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines),
                           "AUTH failed: NOAUTH Authentication required.", "attempt \(attempt)", file: file, line: line)
            XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                           "NOAUTH Authentication required.", "PING reached Redis unauthenticated", file: file, line: line)
        }
        for attempt in 4...5 {
            let result = try cli(port: proxy.port, tls: tls, ["ping"])
            XCTAssertEqual(result.ended, .exited(0), file: file, line: line)
            XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "PONG", "attempt \(attempt)", file: file, line: line)
            XCTAssertEqual(result.stderr, "", file: file, line: line)
        }
    }

    /// redis-py, each attempt a fresh connection without retries: under RESP2 (AUTH) and under
    /// its default RESP3 (HELLO 3 AUTH), the first three raise AuthenticationError("Authentication
    /// required."), then PING works.
    func checkRedisPyRejectedThenAccepted(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        for protocolArguments in [["--resp", "2"], []] {
            let proxy = try startProxy(["redis.reject_auth:first=3"], tls: tls)
            let outcomes = try python("auth", port: proxy.port, tls: tls, ["--attempts", "5"] + protocolArguments,
                                      file: file, line: line)
            XCTAssertEqual(outcomes.count, 5, "\(outcomes)", file: file, line: line)
            for outcome in outcomes.prefix(3) {
                XCTAssertEqual(outcome["error"] as? String, "AuthenticationError", "\(protocolArguments): \(outcome)", file: file, line: line)
                XCTAssertEqual(outcome["module"] as? String, "redis.exceptions", file: file, line: line)
                XCTAssertEqual(outcome["message"] as? String, "Authentication required.", file: file, line: line)
            }
            for outcome in outcomes.dropFirst(3) {
                XCTAssertEqual(outcome["ok"] as? Bool, true, "\(protocolArguments): \(outcome)", file: file, line: line)
            }
        }
    }

    /// `error=WRONGPASS`: the injected reply is exactly what redis-server itself answers to a
    /// wrong password; redis-py raises AuthenticationError with its text, redis-cli prints it.
    func checkWrongpassPreset(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try RawRedis(port: redisPort)
        let fromRedis = try server.call("AUTH", "not-the-password")
        server.close()
        XCTAssertEqual(fromRedis, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", file: file, line: line)

        let proxy = try startProxy(["redis.reject_auth:first=3,error=WRONGPASS"], tls: tls)
        let connection = try raw(port: proxy.port, tls: tls)
        XCTAssertEqual(try connection.call("AUTH", Self.password), fromRedis, "AUTH", file: file, line: line)
        XCTAssertEqual(try connection.call("HELLO", "3", "AUTH", "default", Self.password), fromRedis, "HELLO 3 AUTH", file: file, line: line)
        connection.close()
        let python = try pythonOne("auth", port: proxy.port, tls: tls, ["--resp", "2"], file: file, line: line)
        XCTAssertEqual(python["error"] as? String, "AuthenticationError", "\(python)", file: file, line: line)
        XCTAssertEqual(python["message"] as? String, "invalid username-password pair or user is disabled.", file: file, line: line)
        let accepted = try cli(port: proxy.port, tls: tls, ["ping"])
        XCTAssertEqual(accepted.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "PONG", "the fourth attempt passes",
                       file: file, line: line)
    }
}
