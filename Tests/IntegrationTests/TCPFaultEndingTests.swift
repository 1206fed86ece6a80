import Faultline
import Glibc
import XCTest

/// The TCP faults that end or refuse connections, as a client meets them: which error
/// (ECONNREFUSED at connect, ECONNRESET at recv, or a clean EOF), after how long, with how
/// many bytes, and whether the upstream ever saw the connection. Clients branch on exactly
/// these differences (retry a refused connect, treat a reset as a broken pool entry…), so a
/// FIN where an RST is promised is a failure here.
final class TCPFaultEndingTests: IntegrationCase {
    // MARK: tcp.timeout

    /// A blackhole: the upstream's greeting never reaches the client, the client's request
    /// never reaches the upstream, and after 300 ms both get a FIN.
    func testTimeoutForwardsNothingThenClosesWithFIN() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.timeout:after=300ms"])
        defer { proxy.stop() }
        let server = upstream.serve { fd -> (count: Int, end: Received) in
            try Sock.sendAll(fd, Array("greeting\n".utf8))
            return Sock.ending(fd)
        }
        let started = monotonicSeconds()
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        try Sock.sendAll(client, Array("request\n".utf8))
        let (count, end) = Sock.ending(client)
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(count, 0, "the blackhole let \(count) bytes through to the client")
        XCTAssertEqual(end, .eof, "tcp.timeout ends the connection with a FIN")
        XCTAssertGreaterThanOrEqual(elapsed, 0.29, "closed after \(elapsed) s; after is 300 ms")
        XCTAssertLessThanOrEqual(elapsed, 0.8, "closed after \(elapsed) s; after is 300 ms")
        let upstreamSaw = try server.join(timeout: 5)
        XCTAssertEqual(upstreamSaw.count, 0, "the blackhole let \(upstreamSaw.count) bytes through to the upstream")
        XCTAssertEqual(upstreamSaw.end, .eof)
    }

    // MARK: tcp.reset_peer

    /// Bytes flow until `after`; then the client's recv fails with ECONNRESET, and the
    /// upstream is reset too.
    func testResetPeerResetsBothSidesAfterDelay() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.reset_peer:after=300ms"])
        defer { proxy.stop() }
        let server = upstream.serve { fd -> Received in
            try Sock.sendAll(fd, try Sock.readExactly(fd, 5))
            return Sock.ending(fd).end
        }
        let started = monotonicSeconds()
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        XCTAssertEqual(try Sock.roundTrip(client, Array("hello".utf8)), 0, accuracy: 0.25,
                       "before `after` the link works normally")
        let end = Sock.receiveOnce(client).outcome
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(end, .failed(ECONNRESET), "tcp.reset_peer must reach the client as an RST")
        XCTAssertGreaterThanOrEqual(elapsed, 0.29, "reset after \(elapsed) s; after is 300 ms")
        XCTAssertLessThanOrEqual(elapsed, 0.8, "reset after \(elapsed) s; after is 300 ms")
        XCTAssertEqual(try server.join(timeout: 5), .failed(ECONNRESET), "the upstream must be reset too")
    }

    // MARK: tcp.limit_data

    /// The client gets exactly the first `bytes` of what the upstream sent, then EOF.
    func testLimitDataDeliversExactlyNBytesThenEOF() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.limit_data:bytes=1000"])
        defer { proxy.stop() }
        let message = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let server = upstream.serve { fd in
            try Sock.sendAll(fd, message)
            _ = Sock.ending(fd)
        }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let (bytes, end) = Sock.readToEnd(client)
        XCTAssertEqual(bytes.count, 1000, "limit_data bytes=1000 let \(bytes.count) bytes through")
        XCTAssertEqual(bytes, Array(message.prefix(bytes.count)), "the bytes that pass must be the first ones")
        XCTAssertEqual(end, .eof, "after the limit the client should read a clean EOF")
        try server.join(timeout: 5)
    }

    /// The same on bulk traffic (the splice path, where the limit must cap a splice):
    /// 1 MiB of an 8 MiB stream, exactly, in order.
    func testLimitDataCapsABulkStreamExactly() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.limit_data:bytes=1MB"])
        defer { proxy.stop() }
        let server = upstream.serve { fd in
            // The proxy closes mid-stream, so this send ends with EPIPE or ECONNRESET.
            _ = try? Pattern(seed: 41).send(to: fd, count: 8 << 20)
        }
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        defer { Sock.close(client) }
        let verifier = PatternVerifier(Pattern(seed: 41))
        let got = receiveAll(client, verifier: verifier)
        XCTAssertEqual(got.digest.count, 1 << 20, "limit_data bytes=1MB let \(got.digest.count) bytes through")
        XCTAssertNil(verifier.mismatchAt)
        XCTAssertEqual(got.end, .eof)
        try server.join(timeout: 10)
    }

    /// direction=upstream caps what the client sends: the upstream reads exactly N, then EOF.
    func testLimitDataUpstreamCapsWhatTheUpstreamReceives() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.limit_data:bytes=1000,direction=upstream"])
        defer { proxy.stop() }
        let server = upstream.serve { fd in Sock.readToEnd(fd) }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let message = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        _ = try? Sock.sendAll(client, message)
        let (bytes, end) = try server.join(timeout: 5)
        XCTAssertEqual(bytes, Array(message.prefix(1000)), "the upstream got \(bytes.count) bytes; the limit is 1000")
        XCTAssertEqual(end, .eof)
    }

    // MARK: tcp.down

    /// mode=refuse closes the port: connect() fails with ECONNREFUSED. Removing the fault
    /// opens it again on the same port, and connections go through.
    func testDownRefuseRefusesConnectsUntilRemoved() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", path: .splice)
        defer { proxy.stop() }
        XCTAssertEqual(ProbeOutcome.probe(port: proxy.port), .passed, "before the fault")
        let name = try proxy.add("tcp.down:mode=refuse")
        XCTAssertThrowsError(try Sock.connect(port: proxy.port, timeout: 2)) { error in
            XCTAssertEqual((error as? SystemCallFailure)?.code, ECONNREFUSED, "\(error)")
        }
        XCTAssertTrue(try proxy.removeFault(named: name))
        XCTAssertEqual(ProbeOutcome.probe(port: proxy.port), .passed, "the port must accept again once tcp.down is removed")
        XCTAssertEqual(echo.accepted.current, 2, "only the two passing probes reach the upstream")
    }

    /// mode=reset: connect() succeeds (the kernel completes the handshake), the first recv
    /// fails with ECONNRESET, and the upstream never sees a connection.
    func testDownResetAcceptsThenResets() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: ["tcp.down:mode=reset"])
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        XCTAssertEqual(Sock.receiveOnce(client).outcome, .failed(ECONNRESET))
        XCTAssertEqual(echo.accepted.current, 0, "tcp.down must not connect to the upstream")
    }

    /// mode=close: connect() succeeds, the first recv returns 0 (EOF).
    func testDownCloseAcceptsThenCloses() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: ["tcp.down:mode=close"])
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        XCTAssertEqual(Sock.receiveOnce(client).outcome, .eof)
        XCTAssertEqual(echo.accepted.current, 0, "tcp.down must not connect to the upstream")
    }

    // MARK: tcp.cutoff

    /// `after` is a lifetime counted from the accept, however busy the link: the echo works,
    /// then the link ends 300 ms after the connect with a FIN.
    func testCutoffAfterLifetimeClosesWithFIN() throws {
        try cutoffAfter(how: "fin", expected: .eof)
    }

    /// The same with how=rst: the client meets ECONNRESET instead.
    func testCutoffAfterLifetimeWithRstResets() throws {
        try cutoffAfter(how: "rst", expected: .failed(ECONNRESET))
    }

    private func cutoffAfter(how: String, expected: Received) throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: ["tcp.cutoff:after=300ms,how=\(how)"])
        defer { proxy.stop() }
        let started = monotonicSeconds()
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        _ = try Sock.roundTrip(client, Array("still here\n".utf8))
        let end = Sock.receiveOnce(client).outcome
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(end, expected, "tcp.cutoff how=\(how)")
        XCTAssertGreaterThanOrEqual(elapsed, 0.29, "cut after \(elapsed) s; after is 300 ms")
        XCTAssertLessThanOrEqual(elapsed, 0.8, "cut after \(elapsed) s; after is 300 ms")
    }

    /// how=drop is what a NAT that forgot the flow does: after `after` nothing passes either
    /// way and neither side is told. The client's next request meets silence (no reply, no EOF,
    /// no RST), the upstream neither gets it nor sees a FIN, until the client gives up; only
    /// then does the upstream's connection end.
    func testCutoffDropForwardsNothingAndTellsNoOne() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.cutoff:after=300ms,how=drop"])
        defer { proxy.stop() }
        let server = upstream.serve { fd -> (forwarded: Int, toldAfter: Double, end: Received) in
            try Sock.sendAll(fd, try Sock.readExactly(fd, 6))
            let echoedAt = monotonicSeconds()
            let (rest, end) = Sock.readToEnd(fd)
            return (rest.count, monotonicSeconds() - echoedAt, end)
        }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        XCTAssertEqual(try Sock.roundTrip(client, Array("hello\n".utf8)), 0, accuracy: 0.25, "before `after` the link works")
        usleep(400_000)
        try Sock.sendAll(client, Array("anyone?\n".utf8))
        XCTAssertFalse(Sock.waitReadable(client, timeout: 0.7), "a dropped flow answers nothing: no reply, no EOF, no RST")
        Sock.close(client)
        let seen = try server.join(timeout: 5)
        XCTAssertEqual(seen.forwarded, 0, "the dropped link forwarded the client's bytes")
        XCTAssertEqual(seen.end, .eof, "once the client gave up, the upstream's connection ends with a FIN")
        XCTAssertGreaterThanOrEqual(seen.toldAfter, 0.9, "the upstream was told \(seen.toldAfter) s after the echo, before the client left")
    }

    /// `idle` counts silence: a link that talks every 60 ms outlives several idle periods,
    /// then ends about 300 ms after its last byte.
    func testCutoffIdleClosesOnlyAfterSilence() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: ["tcp.cutoff:idle=300ms"])
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let started = monotonicSeconds()
        var lastByteAt = started
        for turn in 0..<12 {
            do {
                _ = try Sock.roundTrip(client, Array("keepalive \(turn)\n".utf8))
                lastByteAt = monotonicSeconds()
            } catch {
                return XCTFail("the link was cut while busy, \(monotonicSeconds() - started) s in (turn \(turn)): \(error)")
            }
            usleep(60_000)
        }
        XCTAssertGreaterThan(lastByteAt - started, 0.6, "the busy phase should outlast two idle periods")
        let end = Sock.receiveOnce(client).outcome
        let silence = monotonicSeconds() - lastByteAt
        XCTAssertEqual(end, .eof, "how defaults to fin")
        XCTAssertGreaterThanOrEqual(silence, 0.29, "cut after \(silence) s of silence; idle is 300 ms")
        XCTAssertLessThanOrEqual(silence, 0.8, "cut after \(silence) s of silence; idle is 300 ms")
    }

    /// The lifetime counts from the accept even while the upstream connect is held: with
    /// connect_delay=2s and cutoff after=300ms the client is cut at about 300 ms, as a
    /// container network would cut it, not once the connect finally starts.
    func testCutoffLifetimeRunsWhileTheConnectIsHeld() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)",
                                       faults: ["tcp.connect_delay:delay=2s", "tcp.cutoff:after=300ms"])
        defer { proxy.stop() }
        let started = monotonicSeconds()
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let end = Sock.receiveOnce(client).outcome
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(end, .eof)
        XCTAssertGreaterThanOrEqual(elapsed, 0.29, "cut after \(elapsed) s; after is 300 ms")
        XCTAssertLessThanOrEqual(elapsed, 0.8, "cut after \(elapsed) s; after is 300 ms from the accept, whatever the connect does")
    }

    // MARK: tcp.refuse_upstream

    /// The client is accepted and then closed with a FIN, as if the upstream's port were
    /// closed; the upstream never sees a connection and the proxy counts an upstream failure.
    func testRefuseUpstreamClosesClientWithoutConnecting() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: ["tcp.refuse_upstream"])
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        XCTAssertEqual(Sock.receiveOnce(client).outcome, .eof)
        XCTAssertTrue(waitUntil(timeout: 2) { (try? proxy.stats.open) == 0 }, "the link should be gone")
        let stats = try proxy.stats
        XCTAssertEqual(stats.accepted, 1)
        XCTAssertEqual(stats.upstreamFailures, 1, "a refused upstream counts as an upstream failure")
        XCTAssertEqual(echo.accepted.current, 0, "tcp.refuse_upstream must not connect to the upstream")
    }
}
