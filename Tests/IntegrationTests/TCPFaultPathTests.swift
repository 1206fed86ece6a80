import Faultline
import Glibc
import XCTest

/// Which data path a link takes under faults. Faults that never look at bytes (timers,
/// limits, closes) must leave bulk traffic on the splice path — that is what keeps faultline
/// fast while a scenario runs — and a byte fault must move it to the buffered path, where it
/// can hold bytes, and back once it is gone. `ProxyStats.bytesDirect` / `bytesBuffered`
/// say which path read each byte.
final class TCPFaultPathTests: IntegrationCase {
    private static let size = 8 << 20

    /// Upstream and client each send `size` bytes at once; returns what each side got
    /// against what the other sent.
    private func bulkBothWays(proxy: InProcessProxy, upstream: ScriptedUpstream, size: Int = size) throws {
        let server = upstream.serve { fd -> (sent: StreamDigest, got: Reception) in
            let sender = Worker("upstream sender") { () throws -> StreamDigest in
                let digest = try Pattern(seed: 61).send(to: fd, count: size)
                Sock.shutdownWrite(fd)
                return digest
            }
            let got = receiveAll(fd)
            return (try sender.join(timeout: 30), got)
        }
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        defer { Sock.close(client) }
        let clientSender = Worker("client sender") { () throws -> StreamDigest in
            let digest = try Pattern(seed: 62).send(to: client, count: size)
            Sock.shutdownWrite(client)
            return digest
        }
        let clientGot = receiveAll(client)
        let (upstreamSent, upstreamGot) = try server.join(timeout: 30)
        XCTAssertEqual(clientGot.digest, upstreamSent, "upstream → client bytes differ")
        XCTAssertEqual(upstreamGot.digest, try clientSender.join(timeout: 30), "client → upstream bytes differ")
        XCTAssertEqual(clientGot.end, .eof)
        XCTAssertEqual(upstreamGot.end, .eof)
    }

    /// tcp.cutoff (long lifetime), tcp.limit_data (large) and tcp.slow_close all apply, yet
    /// not one byte of 16 MB goes through the buffered path.
    func testNonByteFaultsKeepBulkTrafficOnSplicePath() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: [
            "tcp.cutoff:after=60s", "tcp.limit_data:bytes=1GB,direction=both", "tcp.slow_close:delay=10ms,direction=both",
            "tcp.reset_peer:after=60s",
        ])
        defer { proxy.stop() }
        try bulkBothWays(proxy: proxy, upstream: upstream)
        let stats = try proxy.stats
        XCTAssertEqual(stats.bytesBuffered, 0, "a fault that never touches bytes moved the link to the buffered path")
        XCTAssertEqual(stats.bytesDirect, UInt64(2 * Self.size), "every byte should be counted once, on the splice path")
    }

    /// tcp.latency (even 1 ms) must see every byte of its direction: the whole stream is
    /// read on the buffered path.
    func testLatencyMovesTheLinkToBufferedPath() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.latency:ms=1"])
        defer { proxy.stop() }
        try bulkBothWays(proxy: proxy, upstream: upstream)
        let stats = try proxy.stats
        XCTAssertGreaterThanOrEqual(stats.bytesBuffered, UInt64(Self.size),
                                    "the latency direction's bytes must all go through the buffered path")
        XCTAssertEqual(stats.bytesDirect + stats.bytesBuffered, UInt64(2 * Self.size))
    }

    /// A stream through tcp.latency; the fault is removed once 1 MB has arrived, and only
    /// then does the upstream send the second half. Bytes before the removal were read
    /// buffered, every byte of the second half is read on the splice path, and the client
    /// gets the whole stream in order.
    func testRemovingTheByteFaultMovesTheLinkBackToSplice() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try InProcessProxy(upstream: upstream.address, faults: ["tcp.latency:ms=20"])
        defer { proxy.stop() }
        let firstHalf = 3 << 20
        let secondHalf = 4 << 20
        let removed = DispatchSemaphore(value: 0)
        let server = upstream.serve { fd -> StreamDigest in
            // One pattern across both halves, so the verifier checks the seam too.
            let pattern = Pattern(seed: 63)
            let hasher = SHA256Hasher()
            let block = UnsafeMutableRawBufferPointer.allocate(byteCount: Pattern.blockSize, alignment: 8)
            defer { block.deallocate() }
            for index in 0..<((firstHalf + secondHalf) / Pattern.blockSize) {
                if index * Pattern.blockSize == firstHalf {
                    guard removed.wait(timeout: .now() + 10) == .success else { throw WorkerTimeout(name: "removal", seconds: 10) }
                }
                pattern.fill(block: index, into: block)
                for start in stride(from: 0, to: Pattern.blockSize, by: 64 * 1024) {
                    let piece = UnsafeRawBufferPointer(rebasing: block[start..<(start + 64 * 1024)])
                    try Sock.sendAll(fd, piece)
                    hasher.update(piece)
                    if index * Pattern.blockSize < firstHalf { usleep(1000) }  // keep bytes in flight at the removal
                }
            }
            Sock.shutdownWrite(fd)
            return hasher.finish()
        }
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        defer { Sock.close(client) }
        let verifier = PatternVerifier(Pattern(seed: 63))
        var atRemoval: ProxyStats?
        let got = receiveAll(client, verifier: verifier) { total in
            guard atRemoval == nil, total >= 1 << 20 else { return }
            atRemoval = try? proxy.onLoop { proxy in
                _ = proxy.removeFault(named: "tcp.latency_downstream")
                return proxy.stats
            }
            removed.signal()
        }
        let sent = try server.join(timeout: 30)
        let final = try proxy.stats
        let before = try XCTUnwrap(atRemoval, "the fault was never removed")
        print("path before removal: \(before.bytesBuffered) buffered, \(before.bytesDirect) direct; at the end: \(final.bytesBuffered) buffered, \(final.bytesDirect) direct")
        XCTAssertNil(verifier.mismatchAt, "byte \(verifier.mismatchAt ?? -1) is wrong across the path change")
        XCTAssertEqual(got.digest, sent)
        XCTAssertEqual(got.digest.count, firstHalf + secondHalf)
        XCTAssertEqual(got.end, .eof)
        XCTAssertEqual(before.bytesDirect, 0, "with latency active nothing should have been spliced")
        XCTAssertGreaterThanOrEqual(before.bytesBuffered, 1 << 20)
        XCTAssertGreaterThanOrEqual(final.bytesDirect - before.bytesDirect, UInt64(secondHalf),
                                    "bytes sent after the removal must go through the splice path")
        XCTAssertEqual(final.bytesDirect + final.bytesBuffered, UInt64(firstHalf + secondHalf))
    }
}
