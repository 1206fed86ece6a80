import Faultline
import Glibc
import XCTest

/// How a link ends: FIN mirrors FIN (half-close keeps the other direction open), RST mirrors
/// RST, and an upstream that refuses or never answers closes the client with a FIN.
final class ConnectionEndTests: IntegrationCase {
    // MARK: half-close

    func testHalfCloseOnSplicePathDeliversWholeReplyThenEOF() throws {
        try halfClose(path: .splice)
    }

    func testHalfCloseOnBufferedPathDeliversWholeReplyThenEOF() throws {
        try halfClose(path: .buffered)
    }

    /// The client sends a request and SHUT_WR; the upstream reads to EOF, only then replies
    /// 1 MB and closes. The reply must arrive whole through the client's half-open socket.
    private func halfClose(path: DataPath) throws {
        let requestSize = 100_000
        let replySize = 1 << 20
        let (listener, upstreamPort) = try Sock.listen()
        defer { Sock.close(listener) }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(upstreamPort)", path: path)
        defer { proxy.stop() }

        let upstream = Worker("upstream") { () throws -> (request: Reception, reply: StreamDigest) in
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            let request = receiveAll(fd)
            // Replying only after EOF is the point: the proxy must not have closed this side.
            let reply = try Pattern(seed: 3).send(to: fd, count: replySize)
            return (request, reply)
        }
        let client = try Sock.connect(port: proxy.port)
        defer { Sock.close(client) }
        let request = try Pattern(seed: 4).send(to: client, count: requestSize)
        Sock.shutdownWrite(client)
        let reply = receiveAll(client)
        let (upstreamGot, upstreamSent) = try upstream.join(timeout: 20)

        XCTAssertEqual(upstreamGot.end, .eof, "the client's FIN should reach the upstream as EOF")
        XCTAssertEqual(upstreamGot.digest, request)
        XCTAssertEqual(upstreamGot.digest.count, requestSize)
        XCTAssertEqual(reply.digest, upstreamSent, "the reply sent after the half-close must arrive whole")
        XCTAssertEqual(reply.digest.count, replySize)
        XCTAssertEqual(reply.end, .eof, "after the reply the client should read EOF (0), not an error")
    }

    /// The mirror: the upstream replies and half-closes first; the client reads that EOF and
    /// only then sends its 1 MB, which must still reach the upstream whole.
    func testUpstreamHalfCloseKeepsClientDirectionOpenOnSplicePath() throws {
        try upstreamHalfClosesFirst(path: .splice)
    }

    func testUpstreamHalfCloseKeepsClientDirectionOpenOnBufferedPath() throws {
        try upstreamHalfClosesFirst(path: .buffered)
    }

    private func upstreamHalfClosesFirst(path: DataPath) throws {
        let size = 1 << 20
        let (listener, upstreamPort) = try Sock.listen()
        defer { Sock.close(listener) }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(upstreamPort)", path: path)
        defer { proxy.stop() }
        let upstream = Worker("upstream") { () throws -> (greeting: StreamDigest, late: Reception) in
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            let greeting = try Pattern(seed: 5).send(to: fd, count: 300_000)
            Sock.shutdownWrite(fd)
            return (greeting, receiveAll(fd))
        }
        let client = try Sock.connect(port: proxy.port)
        defer { Sock.close(client) }
        let greeting = receiveAll(client)
        XCTAssertEqual(greeting.end, .eof, "the upstream's FIN should reach the client")
        let late = try Pattern(seed: 6).send(to: client, count: size)
        Sock.shutdownWrite(client)
        let (sentGreeting, upstreamGot) = try upstream.join(timeout: 20)
        XCTAssertEqual(greeting.digest, sentGreeting)
        XCTAssertEqual(upstreamGot.digest, late, "bytes sent after the upstream's FIN must still arrive")
        XCTAssertEqual(upstreamGot.end, .eof)
    }

    // MARK: RST

    func testUpstreamResetReachesClientAsResetOnSplicePath() throws {
        try upstreamReset(path: .splice)
    }

    func testUpstreamResetReachesClientAsResetOnBufferedPath() throws {
        try upstreamReset(path: .buffered)
    }

    /// The upstream reads the client's hello (so the link is surely up) and closes with
    /// SO_LINGER {1,0}: the client's recv must fail with ECONNRESET, not read a clean EOF.
    private func upstreamReset(path: DataPath) throws {
        let (listener, upstreamPort) = try Sock.listen()
        defer { Sock.close(listener) }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(upstreamPort)", path: path)
        defer { proxy.stop() }
        let upstream = Worker("upstream") { () throws -> Void in
            let fd = try Sock.accept(listener)
            _ = try Sock.readExactly(fd, 5)
            Sock.resetOnClose(fd)
            Sock.close(fd)
        }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        try Sock.sendAll(client, Array("hello".utf8))
        try upstream.join(timeout: 10)
        var byte: UInt8 = 0
        let outcome = withUnsafeMutableBytes(of: &byte) { Sock.receive(client, into: $0) }
        XCTAssertEqual(outcome, .failed(ECONNRESET), "the upstream's RST should reach the client as an RST")
    }

    func testClientResetReachesUpstreamAsResetOnSplicePath() throws {
        try clientReset(path: .splice)
    }

    func testClientResetReachesUpstreamAsResetOnBufferedPath() throws {
        try clientReset(path: .buffered)
    }

    /// The mirror: the client resets after the upstream got its hello; the upstream's recv
    /// must fail with ECONNRESET.
    private func clientReset(path: DataPath) throws {
        let (listener, upstreamPort) = try Sock.listen()
        defer { Sock.close(listener) }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(upstreamPort)", path: path)
        defer { proxy.stop() }
        let helloArrived = DispatchSemaphore(value: 0)
        let upstream = Worker("upstream") { () throws -> Received in
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            Sock.setTimeouts(fd, seconds: 5)
            _ = try Sock.readExactly(fd, 5)
            helloArrived.signal()
            var byte: UInt8 = 0
            return withUnsafeMutableBytes(of: &byte) { Sock.receive(fd, into: $0) }
        }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        try Sock.sendAll(client, Array("hello".utf8))
        XCTAssertEqual(helloArrived.wait(timeout: .now() + 5), .success, "hello never reached the upstream")
        Sock.resetOnClose(client)
        Sock.close(client)
        XCTAssertEqual(try upstream.join(timeout: 10), .failed(ECONNRESET),
                       "the client's RST should reach the upstream as an RST")
    }

    // MARK: upstream unreachable

    /// Nothing listens on the upstream port: the proxy closes the client with a FIN (recv
    /// returns 0) within 1 s and logs the system's reason.
    func testRefusedUpstreamClosesClientWithFINAndLogsReason() throws {
        let closedPort = try Sock.freePort()
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(closedPort)")
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let started = monotonicSeconds()
        var byte: UInt8 = 0
        let outcome = withUnsafeMutableBytes(of: &byte) { Sock.receive(client, into: $0) }
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(outcome, .eof, "a refused upstream should close the client with a FIN")
        XCTAssertLessThan(elapsed, 1.0, "the client waited \(elapsed) s to learn the upstream is down")
        XCTAssertTrue(proxy.process.waitForStderr(containing: "Connection refused", timeout: 2),
                      "stderr does not name the reason:\n\(proxy.process.stderrText)")
        XCTAssertTrue(proxy.process.isRunning, "one refused upstream must not stop the proxy")
    }

    /// The library's view of the same: one accepted link, one upstream failure, none open.
    func testRefusedUpstreamCountsAsUpstreamFailure() throws {
        let closedPort = try Sock.freePort()
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(closedPort)", path: .splice)
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        var byte: UInt8 = 0
        XCTAssertEqual(withUnsafeMutableBytes(of: &byte) { Sock.receive(client, into: $0) }, .eof)
        XCTAssertTrue(waitUntil(timeout: 2) { (try? proxy.stats.open) == 0 })
        let stats = try proxy.stats
        XCTAssertEqual(stats.accepted, 1)
        XCTAssertEqual(stats.upstreamFailures, 1)
    }

    /// A client that writes its request at once (as redis-cli does) and an upstream that
    /// never answers: the client must be closed the same way as a client that wrote nothing,
    /// with a FIN (recv 0). Closing a socket whose request is still unread makes Linux send an
    /// RST instead, so the proxy has to shut down (or drain) the client before closing it.
    /// A connect timeout makes this deterministic: the request surely waits unread when the
    /// proxy gives up; with a refused upstream the same race decides FIN or RST.
    func testUpstreamFailureWithRequestAlreadySentClosesClientWithFIN() throws {
        let (listener, upstreamPort, fillers) = try unresponsiveUpstream()
        defer { Sock.close(listener); fillers.forEach(Sock.close) }
        var options = ProxyOptions()
        options.connectTimeout = .milliseconds(300)
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(upstreamPort)", path: .splice, options: options)
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        try Sock.sendAll(client, Array("*1\r\n$4\r\nPING\r\n".utf8))
        let started = monotonicSeconds()
        var byte: UInt8 = 0
        let outcome = withUnsafeMutableBytes(of: &byte) { Sock.receive(client, into: $0) }
        XCTAssertLessThan(monotonicSeconds() - started, 1.5)
        XCTAssertEqual(outcome, .eof, "the proxy closes a client with a FIN when the upstream fails, request or not")
    }

    /// An upstream whose accept queue is full drops SYNs, so the proxy's connect hangs; with
    /// --connect-timeout 500ms the client must be closed (FIN) after about 0.5 s, not 10 s.
    func testConnectTimeoutClosesClientAfterTheConfiguredDelay() throws {
        let (listener, upstreamPort, fillers) = try unresponsiveUpstream()
        defer { Sock.close(listener); fillers.forEach(Sock.close) }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(upstreamPort)", ["--connect-timeout", "500ms"])
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let started = monotonicSeconds()
        var byte: UInt8 = 0
        let outcome = withUnsafeMutableBytes(of: &byte) { Sock.receive(client, into: $0) }
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(outcome, .eof, "a connect timeout should close the client with a FIN")
        XCTAssertGreaterThan(elapsed, 0.4, "closed before the 500 ms connect timeout")
        XCTAssertLessThan(elapsed, 1.5, "closed \(elapsed) s after connecting; the timeout is 500 ms")
        XCTAssertTrue(proxy.process.waitForStderr(containing: "did not answer the connect within", timeout: 2),
                      "stderr does not say the connect timed out:\n\(proxy.process.stderrText)")
    }

    /// ProxyStats.upstreamFailures counts "connects that were refused, unreachable or timed
    /// out": a timed-out connect must count like a refused one.
    func testConnectTimeoutCountsAsUpstreamFailure() throws {
        let (listener, upstreamPort, fillers) = try unresponsiveUpstream()
        defer { Sock.close(listener); fillers.forEach(Sock.close) }
        var options = ProxyOptions()
        options.connectTimeout = .milliseconds(300)
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(upstreamPort)", path: .splice, options: options)
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        var byte: UInt8 = 0
        XCTAssertEqual(withUnsafeMutableBytes(of: &byte) { Sock.receive(client, into: $0) }, .eof)
        XCTAssertTrue(waitUntil(timeout: 2) { (try? proxy.stats.open) == 0 })
        let stats = try proxy.stats
        XCTAssertEqual(stats.accepted, 1)
        XCTAssertEqual(stats.upstreamFailures, 1, "a timed-out connect is not counted as an upstream failure")
    }

    /// A listening socket that never answers a new SYN: with backlog 0 one connection fits
    /// in the accept queue, and once a filler holds it the kernel drops every SYN (even with
    /// syncookies), which is what a stalled upstream looks like.
    private func unresponsiveUpstream() throws -> (listener: Int32, port: UInt16, fillers: [Int32]) {
        let (listener, port) = try Sock.listen(backlog: 0)
        var fillers: [Int32] = []
        for _ in 0..<2 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            _ = try Sock.withAddress("127.0.0.1", port) { connect(fd, $0, $1) }
            fillers.append(fd)
        }
        usleep(100_000)  // let the first filler's handshake land in the queue
        return (listener, port, fillers)
    }
}
