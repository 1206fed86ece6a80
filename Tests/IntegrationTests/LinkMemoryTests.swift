import Glibc
import XCTest

/// Nothing a link creates may outlive it: for every fault kind, thousands of short links
/// through the real binary must leave its RSS where it was. A retain cycle between a link and
/// a fault's stage once cost ~13 KB per link (4,000 links: 23 → 76 MB).
final class LinkMemoryTests: IntegrationCase {
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

    private func churn(_ spec: String?, awaitReply: Bool = true) throws {
        let upstream = try EchoServer()
        defer { upstream.stop() }
        try churnLinks(upstream: upstream.port, spec.map { ["--fault", $0] } ?? [], label: spec ?? "no fault",
                       message: Array("ping\n".utf8), awaitReply: awaitReply)
    }
}
