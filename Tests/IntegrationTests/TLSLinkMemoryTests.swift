import Faultline
import Foundation
import Glibc
import XCTest

/// Nothing a TLS link creates may outlive it (SSL objects, handshakes, their timers): thousands
/// of short TLS links through the real binary must leave its RSS where it was, and through an
/// in-process proxy the live-object counts must return to their baseline.
final class TLSLinkMemoryTests: TLSIntegrationCase {
    /// Below a leaked SSL object (tens of KB with its buffers) by far, above the allocator's noise.
    private static let allowedKBPerLink = 1.0

    /// TLS toward the client, a plain echo upstream: handshake, a line each way, close (half
    /// the links with close_notify, half without, as clients do).
    func testCompletedTLSLinksReleaseTheirMemory() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try workspace.startProxy(upstream: "127.0.0.1:\(echo.port)", ["--tls-profile", "valid"])
        let context = try TLSContext.client(caFile: workspace.root)
        let message = Array("ping\n".utf8)
        var serial = 0
        try churn(proxy, label: "TLS client leg", warmup: 300, links: 2_000) {
            serial += 1
            let stream = try TLSStream.connect(port: proxy.port, context: context, timeout: 5)
            defer { stream.close() }
            try stream.write(message, timeout: 5)
            XCTAssertEqual(try stream.readExactly(message.count, timeout: 5), message)
            if serial % 2 == 0 { stream.shutdownWrite() }
        }
        XCTAssertEqual(echo.accepted.current, 2_300)
    }

    /// Handshakes the client refuses (an expired certificate): the failure path must free
    /// the session and its handshake too.
    func testRefusedHandshakesReleaseTheirMemory() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try workspace.startProxy(upstream: "127.0.0.1:\(echo.port)", ["--tls-profile", "expired"])
        let context = try TLSContext.client(caFile: workspace.root)
        try churn(proxy, label: "refused handshakes", warmup: 200, links: 1_000) {
            XCTAssertThrowsError(try TLSStream.connect(port: proxy.port, context: context, timeout: 5))
        }
        XCTAssertEqual(echo.accepted.current, 0, "a refused handshake must not reach the upstream")
    }

    /// TLS on both legs (redis-server on a TLS port upstream): PING, PONG, close.
    func testBothLegsTLSLinksReleaseTheirMemory() throws {
        let redis = try workspace.startTLSRedis(maxClients: 10000)
        let proxy = try workspace.startProxy(upstream: "127.0.0.1:\(redis.port)", [
            "--tls-profile", "valid", "--upstream-tls", "--upstream-ca", redis.ca, "--upstream-sni", "localhost",
        ])
        let context = try TLSContext.client(caFile: workspace.root)
        try churn(proxy, label: "TLS both legs", warmup: 200, links: 1_000) {
            let stream = try TLSStream.connect(port: proxy.port, context: context, timeout: 5)
            defer { stream.close() }
            try stream.write(Array("PING\r\n".utf8), timeout: 5)
            XCTAssertEqual(try stream.readExactly(7, timeout: 5), Array("+PONG\r\n".utf8))
        }
    }

    /// An in-process proxy with TLS on both legs, every third client meeting an expired
    /// certificate (`tls.profile`) and refusing it: once all links closed, no link-made object
    /// (link, pipe, TLS session, handshake, timer) is alive.
    func testInProcessLiveObjectsReturnToBaseline() throws {
        let redis = try workspace.startTLSRedis(maxClients: 10000)
        var options = ProxyOptions()
        options.tls = ServerTLS(profile: .valid)
        options.upstreamTLS = UpstreamTLS(caFile: redis.ca, sni: "localhost")
        options.certificateAuthority = "\(workspace.directory)/.faultline/ca"
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(redis.port)", path: .splice, options: options)
        defer { proxy.stop() }
        try proxy.add("tls.profile:profile=expired,every=3")
        let context = try TLSContext.client(caFile: workspace.root)
        var refused = 0
        for serial in 1...300 {
            if serial % 3 == 0 {
                XCTAssertThrowsError(try TLSStream.connect(port: proxy.port, context: context, timeout: 5), "link \(serial)")
                refused += 1
                continue
            }
            let stream = try TLSStream.connect(port: proxy.port, context: context, timeout: 5)
            try stream.write(Array("PING\r\n".utf8), timeout: 5)
            XCTAssertEqual(try stream.readExactly(7, timeout: 5), Array("+PONG\r\n".utf8))
            if serial % 2 == 0 { stream.shutdownWrite() }
            stream.close()
        }
        XCTAssertTrue(waitUntil(timeout: 5) { (try? proxy.stats.open) == 0 }, "links still open: \((try? proxy.stats.open) ?? -1)")
        let stats = try proxy.stats
        XCTAssertEqual(stats.handshakesCompleted, 200)
        XCTAssertEqual(stats.handshakesFailed, UInt64(refused))
        XCTAssertEqual(stats.upstreamFailures, 0)
        proxy.assertLinkObjectsReleased(waiting: 5)
        let live = try proxy.liveObjects
        XCTAssertEqual(live[.tls], 0, "TLS sessions alive after every link closed: \(live)")
        XCTAssertEqual(live[.handshake], 0, "handshakes alive after every link closed: \(live)")
    }

    /// Every handshake fault on one in-process proxy, with clients that give up on a delayed
    /// handshake after 50 ms: once the links closed (the delays ran out), nothing is left.
    func testInProcessHandshakeFaultsReleaseTheirObjects() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        var options = ProxyOptions()
        options.tls = ServerTLS(profile: .valid)
        options.certificateAuthority = "\(workspace.directory)/.faultline/ca"
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", path: .splice, options: options)
        defer { proxy.stop() }
        for fault in ["tls.reset_handshake:every=5", "tls.close_handshake:every=7", "tls.alert:every=11",
                      "tls.handshake_delay:delay=300ms,every=4", "tls.require_client_cert:every=13", "tls.max_version:version=1.2,every=2"] {
            try proxy.add(fault)
        }
        let context = try TLSContext.client(caFile: workspace.root)
        let message = Array("ping\n".utf8)
        var completed = 0
        for _ in 0..<150 {
            guard let stream = try? TLSStream.connect(port: proxy.port, context: context, timeout: 0.05) else { continue }
            if (try? stream.write(message, timeout: 1)) != nil, (try? stream.readExactly(message.count, timeout: 1)) == message {
                completed += 1
            }
            stream.close()
        }
        XCTAssertGreaterThan(completed, 30, "links without a failing fault should complete")
        XCTAssertLessThan(completed, 120, "the faults should have failed many links")
        XCTAssertTrue(waitUntil(timeout: 5) { (try? proxy.stats.open) == 0 }, "links still open: \((try? proxy.stats.open) ?? -1)")
        proxy.assertLinkObjectsReleased(waiting: 5)
        let live = try proxy.liveObjects
        XCTAssertEqual(live[.tls], 0, "TLS sessions alive after every link closed: \(live)")
        XCTAssertEqual(live[.handshake], 0, "handshakes alive after every link closed: \(live)")
    }

    // MARK: -

    /// `warmup` links, then RSS, then `links` more, then RSS again once the proxy's
    /// descriptors are back to idle; RSS may grow by less than `allowedKBPerLink` per link.
    private func churn(_ proxy: ProxyProcess, label: String, warmup: Int, links: Int, _ link: () throws -> Void) throws {
        for _ in 0..<warmup { try link() }
        let idleDescriptors = try proxy.process.settledDescriptors()
        let before = try XCTUnwrap(proxy.process.residentKB)
        let started = monotonicSeconds()
        for _ in 0..<links { try link() }
        let elapsed = monotonicSeconds() - started
        XCTAssertTrue(waitUntil(timeout: 10) { (proxy.process.openDescriptors ?? 0) <= idleDescriptors },
                      "\(label): the proxy still holds \(proxy.process.openDescriptors ?? -1) descriptors, \(idleDescriptors) when idle")
        usleep(100_000)
        let after = try XCTUnwrap(proxy.process.residentKB)
        let perLink = Double(after - before) / Double(links)
        print("TLS link memory \(label): RSS \(before) → \(after) KB over \(links) links in \(String(format: "%.1f", elapsed)) s "
              + "(\(String(format: "%.2f", perLink)) KB/link)")
        if addressSanitized {
            print("TLS link memory \(label): RSS bound not checked under AddressSanitizer")
        } else {
            XCTAssertLessThan(perLink, Self.allowedKBPerLink, "\(label): RSS grew \(after - before) KB (\(before) → \(after)) over \(links) links")
        }
        XCTAssertTrue(proxy.process.isRunning, "\(label): the proxy died:\n\(proxy.process.stderrText)")
    }
}
