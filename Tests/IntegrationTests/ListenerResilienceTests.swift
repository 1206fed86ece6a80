import Foundation
import Glibc
import XCTest

/// The listening side when the machine or the configuration works against it, as a user
/// meets it: out of descriptors, a proxy pointed at itself, the port taken during `tcp.down`.
final class ListenerResilienceTests: ScenarioRunCase {
    private let message = Array("hello\n".utf8)

    // MARK: out of descriptors

    /// 50 clients against a proxy limited to 64 descriptors: it accepts what it can serve,
    /// lets the rest wait in the backlog (none is dropped), stays idle rather than retrying
    /// accept in a busy loop, logs at most a line a second with counts instead of one per
    /// failure, and serves the waiting clients by itself as descriptors free up.
    func testOutOfDescriptorsPausesAcceptsThenServesTheWaitingClients() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let port = try Sock.freePort()
        // The proxy raises its soft limit to the hard one, so `ulimit -n` lowers both.
        let proxy = try ChildProcess.spawn("/bin/sh", [
            "-c", "ulimit -n 64 && exec \"$0\" \"$@\"", try faultlineBinary(),
            "proxy", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:\(echo.port)",
        ])
        XCTAssertTrue(proxy.waitForStderr(containing: "listening on 127.0.0.1:\(port)", timeout: 10), proxy.stderrText)
        let started = monotonicSeconds()
        let cpuBefore = try cpuSeconds(of: proxy.pid)
        var clients: [Int32] = []
        defer { clients.forEach(Sock.close) }
        for _ in 0..<50 {
            clients.append(try Sock.connect(port: port, timeout: 5))
            try Sock.sendAll(clients[clients.count - 1], message)
        }
        usleep(2_000_000)
        let busy = try cpuSeconds(of: proxy.pid) - cpuBefore
        let heldLog = proxy.stderrText
        XCTAssertLessThan(busy, 0.5, "CPU seconds spent in 2 s out of descriptors\n\(heldLog.suffix(2000))")
        let held = Self.limitLines(heldLog)
        XCTAssertLessThanOrEqual(held.count, 4, "log lines about the limit in 2 s:\n\(held.prefix(10).joined(separator: "\n"))")
        XCTAssertEqual(held.first.map { $0.hasSuffix("cannot accept: Too many open files; pausing accepts for 10ms") }, true,
                       "\(held.first ?? "no line about the limit")")
        XCTAssertTrue(held.dropFirst().allSatisfy { $0.contains(" in the last ") }, "later lines count: \(held.prefix(10))")

        let states = clients.map(Self.state)
        let served = zip(clients, states).filter { $0.1 == .bytes(message.count) }.map(\.0)
        let waiting = zip(clients, states).filter { $0.1 == .failed(EAGAIN) }.map(\.0)
        XCTAssertEqual(served.count + waiting.count, clients.count, "clients dropped instead of left waiting: \(states)")
        XCTAssertFalse(waiting.isEmpty, "64 descriptors held 50 links: the limit was never reached")
        served.forEach(Sock.close)
        // Each waiting client leaves once served, making room for the next.
        for fd in waiting {
            XCTAssertEqual(try Sock.readExactly(fd, message.count), message, "a waiting client is served once others leave")
            Sock.close(fd)
        }
        clients = []
        XCTAssertEqual(ProbeOutcome.probe(port: port), .passed, "a new client after everyone left")
        let all = Self.limitLines(proxy.stderrText)
        let seconds = monotonicSeconds() - started
        XCTAssertLessThanOrEqual(Double(all.count), seconds + 1, "at most a line a second over \(seconds) s:\n\(all.prefix(10).joined(separator: "\n"))")
    }

    // MARK: a proxy pointed at itself

    /// An upstream that is the listen address, literally or by name through a wildcard
    /// listen, would connect to itself until the descriptor table is full: refused at start.
    func testProxyRefusesToForwardToItsOwnListenAddress() throws {
        let port = try Sock.freePort()
        let cases = [
            ("127.0.0.1:\(port)", "127.0.0.1:\(port)",
             "faultline: --upstream: 127.0.0.1:\(port) is this proxy's own listen address: it would connect to itself"),
            ("0.0.0.0:\(port)", "localhost:\(port)",
             "faultline: --upstream: localhost:\(port) is this proxy's own listen address (listen 0.0.0.0:\(port)): it would connect to itself"),
        ]
        for (listen, upstream, message) in cases {
            let (ended, _, stderr) = try runCommand(try faultlineBinary(), ["proxy", "--listen", listen, "--upstream", upstream],
                                                    timeout: 5)
            XCTAssertEqual(ended, .exited(2), "--listen \(listen) --upstream \(upstream)\n\(stderr)")
            XCTAssertEqual(stderr.split(separator: "\n").last.map(String.init), message)
        }
    }

    /// `check` and `run` refuse the same mistake in a scenario where the file says it, before
    /// playing anything (`check` used to say ok, and `run` named no position).
    func testRunRefusesAProxyPointedAtItself() throws {
        let port = try Sock.freePort()
        let scenario = try writeScenario("self-loop", """
            name: self-loop
            proxies:
              cache:
                listen: 127.0.0.1:\(port)
                upstream: localhost:\(port)
            timeline:
              - phase: steady
                for: 1s
            """)
        let message = "\(scenario):5:15: upstream localhost:\(port) is this proxy's own listen address (listen 127.0.0.1:\(port)): "
            + "it would connect to itself"
        let check = try runCommand(try faultlineBinary(), ["check", scenario], timeout: 10)
        XCTAssertEqual(check.0, .exited(2), check.stdout + check.stderr)
        XCTAssertEqual(check.stderr, message + "\n")
        let run = try run(scenario, timeout: 10)
        XCTAssertEqual(run.termination, .exited(2), run.transcript)
        XCTAssertTrue(run.stderr.contains(message), run.transcript)
        XCTAssertFalse(run.stderr.contains("phase steady started"), run.transcript)
    }

    // MARK: the port taken during tcp.down

    /// Another process binds the port while `tcp.down` (refuse) holds it closed. When the
    /// fault ends the proxy warns once, keeps trying, and listens and serves again as soon as
    /// the port is free, instead of staying down for the rest of the run.
    func testDownRefuseListensAgainOnceThePortIsFree() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let port = try Sock.freePort()
        let scenario = try writeScenario("port-taken", """
            name: port-taken
            proxies:
              cache:
                listen: 127.0.0.1:\(port)
                upstream: 127.0.0.1:\(echo.port)
            timeline:
              - phase: down
                for: 1s
                faults:
                  - tcp.down: { mode: refuse }
              - phase: up
                for: 4s
            """)
        let run = try ChildProcess.spawn(try faultlineBinary(), ["run", scenario])
        XCTAssertTrue(run.waitForStderr(containing: "phase down started", timeout: 10), run.stderrText)
        var holder: Int32 = -1
        _ = waitUntil(timeout: 0.8) {
            holder = (try? Sock.listen(port: port))?.fd ?? -1
            return holder >= 0
        }
        guard holder >= 0 else { return XCTFail("the port stayed bound during tcp.down\n\(run.stderrText)") }
        let warning = "tcp.down ended, but cannot listen on 127.0.0.1:\(port) again: Address already in use"
        XCTAssertTrue(run.waitForStderr(containing: warning, timeout: 5), run.stderrText)
        usleep(700_000)  // a few retries meet the taken port
        Sock.close(holder)
        XCTAssertTrue(waitUntil(timeout: 4) { ProbeOutcome.probe(port: port, timeout: 1) == .passed },
                      "the proxy must listen again once the port is free\n\(run.stderrText)")

        XCTAssertEqual(run.waitForExit(timeout: 10), .exited(0), run.stderrText)
        let stderr = run.stderrText
        XCTAssertEqual(stderr.components(separatedBy: "cannot listen on").count - 1, 1, "one warning\n\(stderr)")
        XCTAssertEqual(stderr.components(separatedBy: "listening on 127.0.0.1:\(port) [cache]").count - 1, 2,
                       "listening at start and again after the port came free\n\(stderr)")
    }

    // MARK: helpers

    /// User plus system CPU seconds of `pid` so far (/proc/PID/stat fields 14 and 15).
    private func cpuSeconds(of pid: pid_t) throws -> Double {
        let stat = Sock.readProcFile("/proc/\(pid)/stat")
        // The command name, in parentheses, may hold spaces: count fields after its ")".
        guard let close = stat.lastIndex(of: ")") else { throw SystemCallFailure(call: "read /proc/\(pid)/stat", code: ENOENT) }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw SystemCallFailure(call: "parse /proc/\(pid)/stat", code: EINVAL)
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The log lines about running out of descriptors.
    private static func limitLines(_ log: String) -> [Substring] {
        log.split(separator: "\n").filter { $0.contains("Too many open files") }
    }

    /// What a client has now without waiting: its echo, nothing yet (EAGAIN), or an end.
    private static func state(_ fd: Int32) -> Received {
        var buffer = [UInt8](repeating: 0, count: 64)
        let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if got > 0 { return .bytes(got) }
        return got == 0 ? .eof : .failed(errno)
    }
}
