import Faultline
import Glibc
import XCTest

/// Faults added to and removed from links that are already open, as a scenario timeline or
/// the control API does mid-run. The promise: a change takes effect on the next byte, and a
/// removal hands on whatever the fault held — complete, in order, nothing repeated.
final class TCPFaultLiveChangeTests: IntegrationCase {
    /// A link that answers at once gets latency added: the next round trip is delayed; once
    /// the fault is removed, round trips are quick again — all on one connection.
    func testAddingAndRemovingLatencyOnAnOpenLink() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", path: .splice)
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let before = try Sock.roundTrip(client, Array("before\n".utf8))
        let name = try proxy.add("tcp.latency:ms=200")
        let during = try Sock.roundTrip(client, Array("during\n".utf8))
        XCTAssertTrue(try proxy.removeFault(named: name))
        let after = try Sock.roundTrip(client, Array("after\n".utf8))
        print("live latency: \(before) s → \(during) s → \(after) s")
        XCTAssertLessThan(before, 0.1)
        XCTAssertGreaterThanOrEqual(during, 0.195, "latency added to the open link did not delay its next chunk")
        XCTAssertLessThanOrEqual(during, 0.45)
        XCTAssertLessThan(after, 0.1, "the link stayed slow after the fault was removed")
        XCTAssertEqual(try proxy.stats.accepted, 1, "all of this must happen on the one link")
    }

    /// tcp.timeout after=0 holds everything, both ways, for as long as it is active; removing
    /// it lets the held bytes flow: each side then gets exactly what the other sent, in order.
    func testRemovingTimeoutReleasesHeldBytesBothWays() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.timeout:after=0"])
        defer { proxy.stop() }
        let size = 200_000
        let upstreamGot = Locked(0)
        let server = upstream.serve { fd -> (sent: StreamDigest, got: Reception) in
            let sender = Worker("upstream sender") { () throws -> StreamDigest in
                let digest = try Pattern(seed: 51).send(to: fd, count: size)
                Sock.shutdownWrite(fd)
                return digest
            }
            let got = receiveAll(fd) { total in upstreamGot.update { $0 = total } }
            return (try sender.join(timeout: 20), got)
        }
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        defer { Sock.close(client) }
        let clientSender = Worker("client sender") { () throws -> StreamDigest in
            let digest = try Pattern(seed: 52).send(to: client, count: size)
            Sock.shutdownWrite(client)
            return digest
        }
        // Held: after 400 ms nothing has arrived on either side, and the link is still open
        // (after=0 never closes).
        XCTAssertFalse(Sock.waitReadable(client, timeout: 0.4), "bytes or a close reached the client through the blackhole")
        XCTAssertEqual(upstreamGot.current, 0, "bytes reached the upstream through the blackhole")
        XCTAssertEqual(try proxy.stats.open, 1)

        XCTAssertTrue(try proxy.removeFault(named: "tcp.timeout_both"))
        let clientGot = receiveAll(client)
        let (upstreamSent, upstreamReceived) = try server.join(timeout: 20)
        let clientSent = try clientSender.join(timeout: 20)
        XCTAssertEqual(clientGot.digest, upstreamSent, "upstream → client bytes released by the removal differ")
        XCTAssertEqual(clientGot.end, .eof)
        XCTAssertEqual(upstreamReceived.digest, clientSent, "client → upstream bytes released by the removal differ")
        XCTAssertEqual(upstreamReceived.end, .eof)
    }

    /// Latency of 5 s holds a stream that keeps coming; removing the fault after 700 ms
    /// releases what was held at once, in order, ahead of what arrives later: the whole
    /// stream arrives (same SHA-256) long before the 5 s would have passed.
    func testRemovingLatencyReleasesHeldChunksInOrder() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.latency:ms=5000"])
        defer { proxy.stop() }
        let size = 3 << 20
        let server = upstream.serve { fd -> StreamDigest in
            // ~1.5 s of sending: bytes are held before, during and after the removal.
            let digest = try Pattern(seed: 53).send(to: fd, count: size, pieces: [32 * 1024], pauseMicros: 15_000)
            Sock.shutdownWrite(fd)
            return digest
        }
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        defer { Sock.close(client) }
        XCTAssertFalse(Sock.waitReadable(client, timeout: 0.7), "a byte arrived before the 5 s latency")
        let removedAt = monotonicSeconds()
        XCTAssertTrue(try proxy.removeFault(named: "tcp.latency_downstream"))
        let verifier = PatternVerifier(Pattern(seed: 53))
        var firstByteAfter: Double?
        let got = receiveAll(client, verifier: verifier) { _ in
            if firstByteAfter == nil { firstByteAfter = monotonicSeconds() - removedAt }
        }
        let finished = monotonicSeconds() - removedAt
        let sent = try server.join(timeout: 20)
        print("latency removed: first byte after \(firstByteAfter ?? -1) s, all after \(finished) s")
        XCTAssertNil(verifier.mismatchAt, "byte \(verifier.mismatchAt ?? -1) is wrong: held chunks lost or reordered")
        XCTAssertEqual(got.digest, sent)
        XCTAssertEqual(got.end, .eof)
        XCTAssertLessThan(firstByteAfter ?? 99, 0.5, "held bytes were not released when the fault went")
        XCTAssertLessThan(finished, 3.5, "the stream took \(finished) s after the removal")
    }

    /// A fault's timer counts from when it applies: tcp.reset_peer added to a link that has
    /// been open 400 ms resets it about 300 ms after the add, not at once.
    func testResetPeerAddedToOpenLinkCountsFromTheAdd() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", path: .splice)
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        _ = try Sock.roundTrip(client, Array("hello\n".utf8))
        usleep(400_000)
        let addedAt = monotonicSeconds()
        try proxy.add("tcp.reset_peer:after=300ms")
        let end = Sock.receiveOnce(client).outcome
        let elapsed = monotonicSeconds() - addedAt
        XCTAssertEqual(end, .failed(ECONNRESET))
        XCTAssertGreaterThanOrEqual(elapsed, 0.29, "reset \(elapsed) s after the add; after is 300 ms")
        XCTAssertLessThanOrEqual(elapsed, 0.8)
    }

    /// Removing tcp.connect_delay releases a connect it was holding: the upstream sees the
    /// connection right away instead of after the 5 s delay.
    func testRemovingConnectDelayReleasesTheHeldConnect() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.connect_delay:delay=5s"])
        defer { proxy.stop() }
        let server = upstream.serve(acceptTimeout: 4) { fd -> (acceptedAt: Double, request: [UInt8]) in
            (monotonicSeconds(), try Sock.readExactly(fd, 6))
        }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        try Sock.sendAll(client, Array("hello\n".utf8))
        usleep(200_000)
        let removedAt = monotonicSeconds()
        XCTAssertTrue(try proxy.removeFault(named: "tcp.connect_delay"))
        let (acceptedAt, request) = try server.join(timeout: 5)
        XCTAssertLessThan(acceptedAt - removedAt, 0.5, "the upstream saw the connection \(acceptedAt - removedAt) s after the removal")
        XCTAssertEqual(request, Array("hello\n".utf8), "the bytes sent while the connect was held must arrive")
    }

    /// Removing tcp.bandwidth mid-transfer hands on what it held and lets the rest go at
    /// full speed: 2 MiB at 256 KiB/s would take 8 s; removed after 0.5 s, the stream
    /// completes within a couple of seconds, whole and in order.
    func testRemovingBandwidthMidTransferLiftsTheLimit() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.bandwidth:rate=256KB"])
        defer { proxy.stop() }
        let size = 2 << 20
        let server = upstream.serve { fd -> StreamDigest in
            let digest = try Pattern(seed: 54).send(to: fd, count: size)
            Sock.shutdownWrite(fd)
            return digest
        }
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        defer { Sock.close(client) }
        let verifier = PatternVerifier(Pattern(seed: 54))
        var removedAt: Double?
        let started = monotonicSeconds()
        let got = receiveAll(client, verifier: verifier) { total in
            guard removedAt == nil, monotonicSeconds() - started > 0.5 else { return }
            // At 256 KiB/s about 128 KiB have come so far; the limit is clearly active.
            XCTAssertLessThan(total, 512 << 10, "\(total) bytes in 0.5 s: the limit was not active")
            _ = try? proxy.removeFault(named: "tcp.bandwidth_downstream")
            removedAt = monotonicSeconds()
        }
        let finished = monotonicSeconds()
        XCTAssertEqual(got.digest, try server.join(timeout: 10))
        XCTAssertNil(verifier.mismatchAt)
        XCTAssertEqual(got.end, .eof)
        let after = finished - (removedAt ?? started)
        XCTAssertNotNil(removedAt)
        XCTAssertLessThan(after, 2.0, "the rest took \(after) s after the limit was removed")
    }

    /// Removing tcp.timeout (after=500ms) before it fires cancels the close: the link
    /// carries bytes well past the 500 ms mark.
    func testRemovingTimeoutBeforeItFiresKeepsTheLink() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: ["tcp.timeout:after=500ms"])
        defer { proxy.stop() }
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        try Sock.sendAll(client, Array("held\n".utf8))
        usleep(200_000)
        XCTAssertTrue(try proxy.removeFault(named: "tcp.timeout_both"))
        XCTAssertEqual(try Sock.readExactly(client, 5), Array("held\n".utf8), "the held request should flow once released")
        usleep(500_000)
        XCTAssertEqual(try Sock.roundTrip(client, Array("later\n".utf8)), 0, accuracy: 0.2,
                       "the link should outlive the removed fault's 500 ms")
    }
}
