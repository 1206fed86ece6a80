import Glibc
import XCTest

/// 2,000 links open at once through the binary: every one carries its own bytes, and once
/// they close the proxy holds exactly the descriptors it held before (no leaked socket/pipe).
final class ManyConnectionsTests: IntegrationCase {
    private static let connections = 2000

    func testTwoThousandConcurrentConnectionsOnSplicePath() throws {
        try manyConnections(extra: [], expectPipes: true)
    }

    func testTwoThousandConcurrentConnectionsOnBufferedPath() throws {
        try manyConnections(extra: ["--no-splice"], expectPipes: false)
    }

    private func manyConnections(extra: [String], expectPipes: Bool) throws {
        let count = Self.connections
        // This process holds 2 sockets per link (client + echo side) plus its own files.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        guard limit.rlim_cur >= rlim_t(2 * count + 256) else {
            throw XCTSkip("RLIMIT_NOFILE is \(limit.rlim_cur); \(2 * count + 256) descriptors are needed")
        }

        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(echo.port)", extra)
        let baseline = try XCTUnwrap(proxy.process.openDescriptors)

        var clients: [Int32] = []
        defer { clients.forEach(Sock.close) }
        for index in 0..<count {
            do {
                clients.append(try Sock.connect(port: proxy.port, timeout: 10))
            } catch {
                return XCTFail("connection \(index) of \(count) failed: \(error)")
            }
        }
        // Every client sends its own message before any reads, so all links are live at once.
        // Every 20th sends 192 KB: bulk enough for the splice path to open its kernel pipes,
        // whose descriptors must be released too.
        let messages = (0..<count).map { index -> [UInt8] in
            let line = Array("link \(index) says hello to the echo server\n".utf8)
            return index % 20 == 0 ? Array(repeating: line, count: (192 << 10) / line.count).flatMap { $0 } : line
        }
        for (fd, message) in zip(clients, messages) { try Sock.sendAll(fd, message) }
        var wrong = 0
        for (index, (fd, message)) in zip(clients, messages).enumerated() {
            do {
                if try Sock.readExactly(fd, message.count) != message { wrong += 1 }
            } catch {
                return XCTFail("echo on connection \(index) failed: \(error)")
            }
        }
        XCTAssertEqual(wrong, 0, "\(wrong) connections got someone else's bytes")
        XCTAssertEqual(echo.accepted.current, count, "the upstream saw \(echo.accepted.current) connections")
        XCTAssertEqual(echo.peakOpen.current, count, "not all links were open at the same time")
        let peak = try XCTUnwrap(proxy.process.openDescriptors)
        XCTAssertGreaterThanOrEqual(peak - baseline, 2 * count, "the proxy holds \(peak - baseline) more descriptors for \(count) links")
        if expectPipes {
            // Otherwise the leak check below would not cover the kernel pipes at all.
            XCTAssertGreaterThan(peak - baseline, 2 * count, "no kernel pipe was opened: the bulk links did not splice")
        }

        clients.forEach(Sock.close)
        clients.removeAll()
        // Each link closes on its FINs; give the loop a moment on a loaded machine.
        var now = peak
        let settled = waitUntil(timeout: 3) {
            now = proxy.process.openDescriptors ?? -1
            return now == baseline
        }
        print("many connections \(extra): descriptors \(baseline) → \(peak) → \(now)")
        XCTAssertTrue(settled, "proxy holds \(now) descriptors 3 s after every client closed; it started with \(baseline)")
        XCTAssertTrue(proxy.process.isRunning)
        XCTAssertEqual(proxy.process.stop(), .exited(0))
    }
}
