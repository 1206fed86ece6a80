import Glibc
import XCTest

/// SIGTERM/SIGINT on the `faultline proxy` process: a graceful drain (stop reading, deliver
/// what was read, FIN both ways, exit 0 within the 2 s grace) and a second signal that exits
/// at once.
final class SignalTests: IntegrationCase {
    func testSigtermMidTransferDeliversInFlightBytesThenFINAndExitsZeroOnSplicePath() throws {
        try sigtermMidTransfer(extra: [])
    }

    func testSigtermMidTransferDeliversInFlightBytesThenFINAndExitsZeroOnBufferedPath() throws {
        try sigtermMidTransfer(extra: ["--no-splice"])
    }

    /// The upstream streams without end; after 4 MB reached the client the proxy gets SIGTERM.
    /// The client must then read what was in flight, an exact prefix of the stream, and a FIN
    /// (recv 0, not ECONNRESET); the proxy must exit 0 within 3 s.
    private func sigtermMidTransfer(extra: [String]) throws {
        let pattern = Pattern(seed: 9)
        let (listener, upstreamPort) = try Sock.listen()
        defer { Sock.close(listener) }
        let upstreamSent = Locked(0)
        let upstream = Worker("upstream") { () throws -> Void in
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            // Sends until the proxy stops taking bytes and resets us (bounded at 1 GB).
            _ = try? pattern.send(to: fd, count: 1 << 30) { sent in upstreamSent.update { $0 = sent } }
        }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(upstreamPort)", extra)
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        defer { Sock.close(client) }

        var signalledAt: Double?
        let verifier = PatternVerifier(pattern)
        let received = receiveAll(client, verifier: verifier, limit: 1 << 30) { total in
            if signalledAt == nil && total >= 4 << 20 {
                proxy.process.signal(SIGTERM)
                signalledAt = monotonicSeconds()
            }
        }
        let sentAt = try XCTUnwrap(signalledAt, "the transfer ended before 4 MB: \(received.end)")
        let ended = proxy.process.waitForExit(timeout: max(0, sentAt + 3 - monotonicSeconds()))
        let exitDelay = monotonicSeconds() - sentAt
        try upstream.join(timeout: 10)

        XCTAssertEqual(received.end, .eof, "after SIGTERM the client should read a FIN, not \(received.end)")
        XCTAssertNil(verifier.mismatchAt, "byte \(verifier.mismatchAt ?? 0) differs from what the upstream sent")
        XCTAssertGreaterThanOrEqual(received.digest.count, 4 << 20)
        // The count moves per 1 MB block, and the block cut short by the drain's reset may
        // have reached the client in part.
        XCTAssertLessThanOrEqual(received.digest.count, upstreamSent.current + Pattern.blockSize,
                                 "client got more than the upstream sent")
        XCTAssertEqual(ended, .exited(0), "proxy did not exit 0 within 3 s of SIGTERM (\(exitDelay) s)")
        print("SIGTERM \(extra): client got \(received.digest.count) of \(upstreamSent.current) sent; exit after \(exitDelay) s")
    }

    /// A client that reads nothing keeps the drain from finishing: the proxy waits for its
    /// grace (2 s), cuts the link and still exits 0, in under 3 s.
    func testSigtermWithStalledClientExitsZeroWhenGraceEnds() throws {
        let (proxy, client) = try stalledLink()
        defer { Sock.close(client) }
        proxy.process.signal(SIGTERM)
        let signalled = monotonicSeconds()
        let ended = proxy.process.waitForExit(timeout: 3)
        let delay = monotonicSeconds() - signalled
        XCTAssertEqual(ended, .exited(0), "after \(delay) s")
        XCTAssertGreaterThan(delay, 1.5, "exited before the 2 s grace with bytes still undelivered")
    }

    /// A second signal during the drain exits at once (the shell's 128 + signal number).
    func testSecondSignalExitsAtOnce() throws {
        let (proxy, client) = try stalledLink()
        defer { Sock.close(client) }
        proxy.process.signal(SIGTERM)
        XCTAssertNil(proxy.process.waitForExit(timeout: 0.3), "the first signal should start a drain, not exit")
        proxy.process.signal(SIGINT)
        let signalled = monotonicSeconds()
        let ended = proxy.process.waitForExit(timeout: 1)
        XCTAssertEqual(ended, .exited(128 + SIGINT), "after \(monotonicSeconds() - signalled) s")
    }

    /// A link whose client never reads while the upstream pushes until the proxy stops
    /// reading: bytes stay in flight, so a graceful drain cannot finish by itself.
    private func stalledLink() throws -> (ProxyProcess, Int32) {
        let (listener, upstreamPort) = try Sock.listen()
        let sent = Locked(0)
        // Ends by itself once the proxy exits and resets it (or its 8 s send timeout).
        _ = Worker("upstream") { () throws -> Void in
            defer { Sock.close(listener) }
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            Sock.setTimeouts(fd, seconds: 8)
            _ = try? Pattern(seed: 10).send(to: fd, count: 1 << 30) { total in sent.update { $0 = total } }
        }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(upstreamPort)")
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        // Stalled: the upstream's count (kept per 1 MB block) has not moved for 300 ms, after
        // at least 4 MB, so every buffer on the way is full, the proxy's own included.
        var samples: [Int] = []
        let stalled = waitUntil(timeout: 8) {
            usleep(100_000)
            samples.append(sent.current)
            return samples.count >= 4 && samples.suffix(4).allSatisfy { $0 == samples.last! } && samples.last! >= 4 << 20
        }
        XCTAssertTrue(stalled, "the upstream kept sending to a client that reads nothing")
        return (proxy, client)
    }

    // MARK: drain completeness

    func testSigtermDeliversEveryByteTheProxyHadReadOnSplicePath() throws {
        try sigtermDeliversBytesAlreadyRead(extra: [])
    }

    func testSigtermDeliversEveryByteTheProxyHadReadOnBufferedPath() throws {
        try sigtermDeliversBytesAlreadyRead(extra: ["--no-splice"])
    }

    /// The upstream sends until backpressure stops it and keeps the connection open; the
    /// client (tiny receive window) reads nothing, so the proxy fills its socket, then its own
    /// buffer, and stops reading. Once the kernel queues stand still, what the proxy has read
    /// is exactly what the upstream sent minus what still waits in the upstream's send queue
    /// and the proxy's receive queue (/proc/net/tcp).
    /// After SIGTERM the client must get exactly that many bytes, then a FIN: a drain that
    /// cuts instead of delivering what it holds loses the bytes in the proxy's buffer.
    private func sigtermDeliversBytesAlreadyRead(extra: [String]) throws {
        let pattern = Pattern(seed: 13)
        let (listener, upstreamPort) = try Sock.listen()
        defer { Sock.close(listener) }
        let release = DispatchSemaphore(value: 0)
        let upstreamSent = Locked<Int?>(nil)
        let upstream = Worker("upstream") { () throws -> Void in
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            let sent = try pattern.sendUntilBlocked(to: fd, limit: 256 << 20, idleSeconds: 0.3)
            upstreamSent.update { $0 = sent }
            _ = release.wait(timeout: .now() + 10)  // no FIN from here: only the drain may end it
        }
        defer { release.signal() }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(upstreamPort)", extra)
        let client = try Sock.connect(port: proxy.port, timeout: 10, receiveBuffer: 4096)
        defer { Sock.close(client) }
        let clientPort = Sock.localPort(client)
        let connected = monotonicSeconds()

        // What the proxy has read (sent minus the upstream's send queue and the proxy's
        // receive queue) and what already left it (its send queue to the client plus the
        // client's receive queue), from the kernel's view of the three sockets.
        func accounting(sent: Int) -> (read: Int, left: Int)? {
            let sockets = Sock.kernelSockets(ports: [upstreamPort, proxy.port, clientPort])
            guard let upstreamSide = sockets.first(where: { $0.localPort == upstreamPort }),
                  let proxySide = sockets.first(where: { $0.localPort == upstreamSide.remotePort }),
                  let proxyClientSide = sockets.first(where: { $0.localPort == proxy.port && $0.remotePort == clientPort }),
                  let clientSide = sockets.first(where: { $0.localPort == clientPort && $0.remotePort == proxy.port })
            else { return nil }
            return (sent - upstreamSide.sendQueue - proxySide.receiveQueue, proxyClientSide.sendQueue + clientSide.receiveQueue)
        }
        var last: (read: Int, left: Int)?
        var now: (read: Int, left: Int)?
        let quiet = waitUntil(timeout: 8) {
            usleep(100_000)
            last = now
            now = upstreamSent.current.flatMap { accounting(sent: $0) }
            return now != nil && last != nil && now! == last!
        }
        XCTAssertTrue(quiet, "the link never stood still: \(String(describing: last)) then \(String(describing: now))")
        let (readByProxy, leftProxy) = try XCTUnwrap(now, "no kernel view of the link")
        let heldByProxy = readByProxy - leftProxy
        print("drain \(extra): proxy read \(readByProxy) bytes and holds \(heldByProxy) (\(monotonicSeconds() - connected) s after connecting)")
        // Without bytes inside the process this test would prove nothing.
        XCTAssertGreaterThan(heldByProxy, 16 << 10, "the proxy holds almost nothing; nothing to drain")

        proxy.process.signal(SIGTERM)
        let verifier = PatternVerifier(pattern)
        let received = receiveAll(client, verifier: verifier)
        XCTAssertEqual(received.digest.count, readByProxy,
                       "the proxy had read \(readByProxy) bytes; the client got \(received.digest.count)")
        XCTAssertNil(verifier.mismatchAt, "byte \(verifier.mismatchAt ?? 0) differs from what the upstream sent")
        XCTAssertEqual(received.end, .eof)
        XCTAssertEqual(proxy.process.waitForExit(timeout: 3), .exited(0))
        release.signal()
        try upstream.join(timeout: 10)
    }
}
