import XCTest

/// What LinkMemoryTests checks for TCP faults, for the Redis layer: thousands of short links
/// through `--protocol redis` in front of a real redis-server, each sending PING and waiting
/// for its answer, leave the proxy's RSS where it was, with no fault and with each command
/// fault (the session, its framers, pending queue and timers die with the link).
final class RedisLinkMemoryTests: ScenarioRunCase {
    private static let ping = Array("*1\r\n$4\r\nPING\r\n".utf8)

    func testNoFault() throws { try churn(nil) }
    func testRejectAuth() throws { try churn("redis.reject_auth", message: Array("*2\r\n$4\r\nAUTH\r\n$1\r\nx\r\n".utf8)) }
    func testError() throws { try churn("redis.error:error=LOADING") }
    func testDelay() throws { try churn("redis.delay:delay=1ms") }
    /// The client sends its FIN after PING: a hung command's link then ends (Redis closes a
    /// connection its client closed), so links come and go one at a time.
    func testHang() throws { try churn("redis.hang", halfClose: true) }
    func testClose() throws { try churn("redis.close") }
    func testMaxClients() throws { try churn("redis.max_clients") }

    private func churn(_ spec: String?, message: [UInt8] = ping, halfClose: Bool = false) throws {
        let redis = try startRedis()
        try churnLinks(upstream: redis, ["--protocol", "redis"] + (spec.map { ["--fault", $0] } ?? []),
                       label: "redis \(spec ?? "no fault")", message: message, halfClose: halfClose)
    }
}
