import Faultline
import Glibc
import XCTest

/// 64 MB each way, both directions at once, through each data path and across live path
/// switches: the SHA-256 of what one end sent must equal the SHA-256 of what the other end got.
final class ByteIntegrityTests: IntegrationCase {
    private static let size = 64 << 20

    func testSplicePathKeepsEveryByteBothWays() throws {
        try transferBothWays(path: .splice, switchEvery: nil)
    }

    func testBufferedPathKeepsEveryByteBothWays() throws {
        try transferBothWays(path: .buffered, switchEvery: nil)
    }

    /// The switch must move bytes already waiting in the kernel pipe or the evbuffer without
    /// losing, repeating or reordering one.
    func testLiveSwitchesEvery20msKeepEveryByteBothWays() throws {
        try transferBothWays(path: .splice, switchEvery: 0.020)
    }

    /// Same, switching as fast as the loop takes it, so switches land mid-flush far more often.
    func testLiveSwitchesEvery1msKeepEveryByteBothWays() throws {
        try transferBothWays(path: .buffered, switchEvery: 0.001)
    }

    /// Writes that alternate between a few bytes and megabytes, with short pauses, so each
    /// direction flips between the small-read copy and bulk splice modes (and, here, between
    /// paths every 2 ms) while earlier bytes still wait in a buffer or kernel pipe.
    func testMixedSmallAndBulkWritesWithLiveSwitchesKeepEveryByte() throws {
        try transferBothWays(path: .splice, switchEvery: 0.002, size: 24 << 20,
                             pieces: [1, 200, 1448, 70_000, 5, 65_536, 300, 1 << 20, 17, 4096, 250_000, 64],
                             pauseMicros: 300)
    }

    /// The same mixed writes on the splice path alone (its own copy/splice switching).
    func testMixedSmallAndBulkWritesOnSplicePathKeepEveryByte() throws {
        try transferBothWays(path: .splice, switchEvery: nil, size: 24 << 20,
                             pieces: [3, 65_537, 100, 512 * 1024, 1, 16_384, 700, 131_072],
                             pauseMicros: 300, slowReaders: true)
    }

    private func transferBothWays(path: DataPath, switchEvery interval: Double?, size: Int = size,
                                  pieces: [Int] = [Pattern.blockSize], pauseMicros: UInt32 = 0,
                                  slowReaders: Bool? = nil) throws {
        // Slow readers (the default while switching) make the proxy's sinks block, so bytes
        // wait in its evbuffer or kernel pipe when a switch or a copy/splice change comes:
        // the case that can reorder or drop bytes.
        let readerPause: UInt32 = slowReaders ?? (interval != nil) ? 1000 : 0
        let (listener, upstreamPort) = try Sock.listen()
        defer { Sock.close(listener) }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(upstreamPort)", path: path)
        defer { proxy.stop() }

        // The upstream sends its own stream while it hashes what it receives, on two threads,
        // so both directions of the link are busy at the same time.
        let upstream = Worker("upstream") { () throws -> (sent: StreamDigest, received: Reception) in
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            let sender = Worker("upstream sender") { () throws -> StreamDigest in
                let digest = try Pattern(seed: 2).send(to: fd, count: size, pieces: pieces.reversed(), pauseMicros: pauseMicros)
                Sock.shutdownWrite(fd)
                return digest
            }
            let received = receiveAll(fd, pauseMicros: readerPause)
            return (try sender.join(timeout: 60), received)
        }

        let client = try Sock.connect(port: proxy.port)
        defer { Sock.close(client) }
        let started = monotonicSeconds()
        let clientSender = Worker("client sender") { () throws -> StreamDigest in
            let digest = try Pattern(seed: 1).send(to: client, count: size, pieces: pieces, pauseMicros: pauseMicros)
            Sock.shutdownWrite(client)
            return digest
        }
        let transferring = Locked(true)
        let switcher = interval.map { interval in
            Worker("path switcher") { () -> Int in
                var switches = 0
                var next = path
                while transferring.current && switches < 100_000 {
                    usleep(UInt32(interval * 1_000_000))
                    next = next == .splice ? .buffered : .splice
                    proxy.setPath(next)
                    switches += 1
                }
                return switches
            }
        }

        let clientReceived = receiveAll(client, pauseMicros: readerPause)
        let elapsed = monotonicSeconds() - started
        let clientSent = try clientSender.join(timeout: 60)
        let (upstreamSent, upstreamReceived) = try upstream.join(timeout: 60)
        transferring.update { $0 = false }
        let switches = try switcher?.join(timeout: 5)
        print("byte integrity \(path)\(interval.map { " switching every \($0) s" } ?? ""): \(elapsed) s, \(switches.map(String.init) ?? "no") switches")

        XCTAssertEqual(clientSent.count, size)
        XCTAssertEqual(upstreamSent.count, size)
        XCTAssertEqual(upstreamReceived.end, .eof, "upstream's read should end with the client's FIN")
        XCTAssertEqual(clientReceived.end, .eof, "client's read should end with the upstream's FIN")
        XCTAssertEqual(upstreamReceived.digest, clientSent, "client → upstream bytes differ")
        XCTAssertEqual(clientReceived.digest, upstreamSent, "upstream → client bytes differ")
        if let switches, let interval {
            // Proves the switches really happened while bytes were moving, not after.
            let expected = max(3, Int(elapsed / interval / 4))
            XCTAssertGreaterThanOrEqual(switches, expected, "only \(switches) switches in \(elapsed) s of transfer")
        }

        // Both ends closed, so the proxy must have closed the link too.
        XCTAssertTrue(waitUntil(timeout: 3) { (try? proxy.stats.open) == 0 }, "link still open after both FINs")
        let stats = try proxy.stats
        XCTAssertEqual(stats.accepted, 1)
        XCTAssertEqual(stats.upstreamFailures, 0)
    }
}
