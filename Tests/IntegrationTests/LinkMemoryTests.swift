import Glibc
import XCTest

/// Nothing a link creates may outlive it: for every fault kind, thousands of short links
/// through the real binary must leave its RSS where it was. A retain cycle between a link and
/// a fault's stage once cost ~13 KB per link (4,000 links: 23 → 76 MB).
final class LinkMemoryTests: IntegrationCase {
    /// Links per kind after the warm-up; the issue's reproduction used 4,000.
    private static let links = 5_000
    /// Links that put the allocator's pools and the proxy's lazy state in the baseline.
    private static let warmup = 500
    /// Below the leak's 13 KB by far, above the allocator's noise.
    private static let allowedKBPerLink = 1.0

    func testNoFault() throws { try churn(nil) }
    func testLatency() throws { try churn("tcp.latency:ms=1") }
    func testLatencyZero() throws { try churn("tcp.latency:ms=0") }
    func testBandwidth() throws { try churn("tcp.bandwidth:rate=1MB") }
    func testSlicer() throws { try churn("tcp.slicer:size=2") }
    func testSlowClose() throws { try churn("tcp.slow_close:delay=1ms") }
    func testTimeout() throws { try churn("tcp.timeout:after=0", awaitReply: false) }
    func testResetPeer() throws { try churn("tcp.reset_peer:after=1ms") }
    func testLimitData() throws { try churn("tcp.limit_data:bytes=2") }
    func testDown() throws { try churn("tcp.down:mode=reset") }
    func testConnectDelay() throws { try churn("tcp.connect_delay:delay=1ms") }
    func testCutoff() throws { try churn("tcp.cutoff:after=1ms") }
    func testRefuseUpstream() throws { try churn("tcp.refuse_upstream") }

    /// Opens and closes links one after another through `faultline proxy --fault SPEC`, each
    /// sending a line to an echo upstream and, with `awaitReply`, waiting for whatever comes
    /// back first (the echo, EOF or RST); then checks RSS per link.
    private func churn(_ spec: String?, awaitReply: Bool = true) throws {
        let upstream = try EchoServer()
        defer { upstream.stop() }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(upstream.port)", spec.map { ["--fault", $0] } ?? [])
        let message = Array("ping\n".utf8)
        func link() throws {
            let fd: Int32
            do {
                fd = try Sock.connect(port: proxy.port, timeout: 5)
            } catch let failure as SystemCallFailure where failure.code == ECONNRESET {
                return  // tcp.down's RST can beat connect()'s return: that link is over too
            }
            defer { Sock.close(fd) }
            _ = try? Sock.sendAll(fd, message)
            if awaitReply && Sock.waitReadable(fd, timeout: 2) { _ = Sock.receiveOnce(fd, size: 64) }
        }
        // A client that does not wait is thousands of links ahead of the proxy, so many are
        // open at once: warm up with as many, so that peak is in the baseline too.
        for _ in 0..<(awaitReply ? Self.warmup : Self.links) { try link() }
        let idleDescriptors = try proxy.process.settledDescriptors()
        let before = try XCTUnwrap(proxy.process.residentKB)
        let started = monotonicSeconds()
        for _ in 0..<Self.links { try link() }
        let elapsed = monotonicSeconds() - started
        // Links close on the proxy's side after the client's close (a client that does not
        // wait for replies is thousands of connects ahead): wait until their sockets are gone.
        XCTAssertTrue(waitUntil(timeout: 10) { (proxy.process.openDescriptors ?? 0) <= idleDescriptors },
                      "the proxy still holds \(proxy.process.openDescriptors ?? -1) descriptors, \(idleDescriptors) when idle")
        usleep(100_000)
        let after = try XCTUnwrap(proxy.process.residentKB)
        let perLink = Double(after - before) / Double(Self.links)
        let label = spec ?? "no fault"
        print("link memory \(label): RSS \(before) → \(after) KB over \(Self.links) links in \(String(format: "%.1f", elapsed)) s (\(String(format: "%.2f", perLink)) KB/link)")
        if addressSanitized {
            // ASan's quarantine and shadow memory make RSS grow with every allocation; its
            // LeakSanitizer checks this proxy's heap when it exits instead (Sanitizer.swift).
            print("link memory \(label): RSS bound not checked under AddressSanitizer")
        } else {
            XCTAssertLessThan(perLink, Self.allowedKBPerLink,
                              "\(label): RSS grew \(after - before) KB (\(before) → \(after)) over \(Self.links) links")
        }
        XCTAssertTrue(proxy.process.isRunning, "\(label): the proxy died:\n\(proxy.process.stderrText)")
    }
}
