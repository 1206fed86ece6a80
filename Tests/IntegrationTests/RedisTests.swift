import Foundation
import Glibc
import XCTest

/// Real Redis clients against a real redis-server through the proxy binary: the proxy must be
/// invisible to a pipelining client (redis-benchmark keeps 20 connections busy).
final class RedisTests: IntegrationCase {
    private var redisPort: UInt16 = 0
    private var proxy: ProxyProcess?

    override func setUpWithError() throws {
        try super.setUpWithError()
        for tool in ["redis-server", "redis-cli", "redis-benchmark"] where which(tool) == nil {
            throw XCTSkip("\(tool) is not installed (apt-get install redis-server redis-tools)")
        }
        redisPort = try Sock.freePort()
        let server = try ChildProcess.spawn(which("redis-server")!, [
            "--port", "\(redisPort)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--protected-mode", "yes",
        ])
        guard waitUntil(timeout: 10, { redisAnswersPing(port: redisPort) }) else {
            throw RedisStartFailure(port: redisPort, output: server.stdoutText + server.stderrText)
        }
        proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(redisPort)")
    }

    func testPingThroughProxy() throws {
        let port = try XCTUnwrap(proxy?.port)
        let (ended, stdout, stderr) = try runCommand(which("redis-cli")!, ["-h", "127.0.0.1", "-p", "\(port)", "ping"], timeout: 10)
        XCTAssertEqual(ended, .exited(0), stderr)
        XCTAssertEqual(stdout.trimmingCharacters(in: .whitespacesAndNewlines), "PONG")
    }

    func testSetThenGetThroughProxyReachesTheRealServer() throws {
        let port = try XCTUnwrap(proxy?.port)
        let cli = which("redis-cli")!
        let key = "faultline:it:\(getpid())"
        let value = UUID().uuidString
        let set = try runCommand(cli, ["-h", "127.0.0.1", "-p", "\(port)", "set", key, value], timeout: 10)
        XCTAssertEqual(set.0, .exited(0), set.stderr)
        XCTAssertEqual(set.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "OK")
        let get = try runCommand(cli, ["-h", "127.0.0.1", "-p", "\(port)", "get", key], timeout: 10)
        XCTAssertEqual(get.stdout.trimmingCharacters(in: .whitespacesAndNewlines), value)
        // Read it back from redis-server directly: the SET really crossed the proxy.
        let direct = try runCommand(cli, ["-h", "127.0.0.1", "-p", "\(redisPort)", "get", key], timeout: 10)
        XCTAssertEqual(direct.stdout.trimmingCharacters(in: .whitespacesAndNewlines), value)
    }

    func testRedisBenchmarkThroughProxy() throws {
        let port = try XCTUnwrap(proxy?.port)
        let (ended, stdout, stderr) = try runCommand(which("redis-benchmark")!, [
            "-h", "127.0.0.1", "-p", "\(port)", "-n", "20000", "-c", "20", "-t", "get,set", "-q",
        ], timeout: 90)
        XCTAssertEqual(ended, .exited(0), "redis-benchmark: \(stderr)\n\(stdout)")
        // -q prints progress with \r, then "SET: 41322.31 requests per second, p50=0.367 msec".
        let lines = stdout.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
        for command in ["SET", "GET"] {
            let line = lines.last { $0.hasPrefix("\(command): ") && $0.contains("requests per second") }
            let rate = line.flatMap { Double($0.dropFirst(command.count + 2).split(separator: " ").first ?? "") }
            XCTAssertNotNil(rate, "no \(command) requests-per-second line in:\n\(stdout)")
            XCTAssertGreaterThan(rate ?? 0, 0)
            print("redis-benchmark through faultline: \(line ?? "?")")
        }
        XCTAssertTrue(proxy?.process.isRunning ?? false, "proxy died under redis-benchmark")
    }

    private func which(_ tool: String) -> String? {
        ["/usr/bin", "/usr/local/bin", "/bin"].map { "\($0)/\(tool)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

struct RedisStartFailure: Error, CustomStringConvertible {
    let port: UInt16
    let output: String
    var description: String { "redis-server did not answer PING on port \(port) within 10 s:\n\(output)" }
}

/// Whether a Redis on `port` answers PING with +PONG (readiness probe, no redis-cli needed).
private func redisAnswersPing(port: UInt16) -> Bool {
    guard let fd = try? Sock.connect(port: port, timeout: 1) else { return false }
    defer { Sock.close(fd) }
    guard (try? Sock.sendAll(fd, Array("PING\r\n".utf8))) != nil,
          let reply = try? Sock.readExactly(fd, 7) else { return false }
    return reply == Array("+PONG\r\n".utf8)
}
