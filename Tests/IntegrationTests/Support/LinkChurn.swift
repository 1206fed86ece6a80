import Glibc
import XCTest

/// Nothing a link creates may outlive it: thousands of short links through the real binary
/// must leave its RSS where it was (LinkMemoryTests, RedisLinkMemoryTests).
extension IntegrationCase {
    /// Links per run after the warm-up; the issue's reproduction used 4,000.
    static var churnLinks: Int { 5_000 }
    /// Links that put the allocator's pools and the proxy's lazy state in the baseline.
    static var churnWarmup: Int { 500 }
    /// Below a retain cycle's ~13 KB per link by far, above the allocator's noise.
    static var churnAllowedKBPerLink: Double { 1.0 }

    /// Opens and closes links one after another through `faultline proxy ARGUMENTS` in front
    /// of `upstream`, each sending `message` (or, with `alternates`, the links taking `message`
    /// and each alternate in turn) and, with `awaitReply`, waiting for whatever comes back
    /// first (the reply, EOF or RST); with `halfClose` it sends its FIN after the message (a
    /// fault that never answers then ends the link at once, one link at a time); then checks
    /// RSS per link.
    func churnLinks(upstream: UInt16, _ arguments: [String], label: String, message: [UInt8], alternates: [[UInt8]] = [],
                    awaitReply: Bool = true, halfClose: Bool = false) throws {
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(upstream)", arguments)
        let messages = [message] + alternates
        var turn = 0
        func link() throws {
            let message = messages[turn % messages.count]
            turn += 1
            let fd: Int32
            do {
                fd = try Sock.connect(port: proxy.port, timeout: 5)
            } catch let failure as SystemCallFailure where failure.code == ECONNRESET {
                return  // tcp.down's RST can beat connect()'s return: that link is over too
            }
            defer { Sock.close(fd) }
            _ = try? Sock.sendAll(fd, message)
            if halfClose { shutdown(fd, Int32(SHUT_WR)) }
            if awaitReply && Sock.waitReadable(fd, timeout: 2) { _ = Sock.receiveOnce(fd, size: 64) }
        }
        // A client that does not wait is thousands of links ahead of the proxy, so many are
        // open at once: warm up with as many, so that peak is in the baseline too.
        for _ in 0..<(awaitReply ? Self.churnWarmup : Self.churnLinks) { try link() }
        let idleDescriptors = try proxy.process.settledDescriptors()
        let before = try XCTUnwrap(proxy.process.residentKB)
        let started = monotonicSeconds()
        for _ in 0..<Self.churnLinks { try link() }
        let elapsed = monotonicSeconds() - started
        // Links close on the proxy's side after the client's close (a client that does not
        // wait for replies is thousands of connects ahead): wait until their sockets are gone.
        XCTAssertTrue(waitUntil(timeout: 10) { (proxy.process.openDescriptors ?? 0) <= idleDescriptors },
                      "the proxy still holds \(proxy.process.openDescriptors ?? -1) descriptors, \(idleDescriptors) when idle")
        usleep(100_000)
        let after = try XCTUnwrap(proxy.process.residentKB)
        let perLink = Double(after - before) / Double(Self.churnLinks)
        print("link memory \(label): RSS \(before) → \(after) KB over \(Self.churnLinks) links in \(String(format: "%.1f", elapsed)) s (\(String(format: "%.2f", perLink)) KB/link)")
        if addressSanitized {
            // ASan's quarantine and shadow memory make RSS grow with every allocation; its
            // LeakSanitizer checks this proxy's heap when it exits instead (Sanitizer.swift).
            print("link memory \(label): RSS bound not checked under AddressSanitizer")
        } else {
            XCTAssertLessThan(perLink, Self.churnAllowedKBPerLink,
                              "\(label): RSS grew \(after - before) KB (\(before) → \(after)) over \(Self.churnLinks) links")
        }
        XCTAssertTrue(proxy.process.isRunning, "\(label): the proxy died:\n\(proxy.process.stderrText)")
    }
}
