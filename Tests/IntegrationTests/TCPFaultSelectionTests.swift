import Faultline
import Glibc
import XCTest

/// Which connections a fault picks: `probability` decided from the seed (the same seed
/// replays the same decisions, which is what makes a recorded chaos run reproducible),
/// `first: N` and `every: N`. Each connection is probed through an echo upstream and
/// classified by what the client met, so the pattern is read from real sockets.
final class TCPFaultSelectionTests: IntegrationCase {
    private static let connections = 40

    /// The pass/RST pattern of `count` sequential connections through a fresh proxy.
    private func pattern(seed: UInt64, fault: String, count: Int = connections) throws -> [ProbeOutcome] {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: [fault], seed: seed)
        defer { proxy.stop() }
        return (0..<count).map { _ in ProbeOutcome.probe(port: proxy.port) }
    }

    private func render(_ outcomes: [ProbeOutcome]) -> String {
        outcomes.map { $0 == .passed ? "." : $0 == .reset ? "R" : "?" }.joined()
    }

    // MARK: probability and seed

    /// Two fresh proxies with seed 42 decide alike for each of 40 connections; seed 43
    /// decides differently. With p = 0.5 both outcomes must occur, and nothing but pass/RST.
    func testSameSeedMakesSameDecisionsAndOtherSeedDiffers() throws {
        let fault = "tcp.down:mode=reset,probability=0.5"
        let first = try pattern(seed: 42, fault: fault)
        let again = try pattern(seed: 42, fault: fault)
        let other = try pattern(seed: 43, fault: fault)
        print("seed 42: \(render(first))\nseed 42: \(render(again))\nseed 43: \(render(other))")
        XCTAssertTrue(first.allSatisfy { $0 == .passed || $0 == .reset }, "unexpected outcomes: \(first)")
        XCTAssertEqual(render(first), render(again), "the same seed must make the same per-connection decisions")
        XCTAssertNotEqual(render(first), render(other), "a different seed should make different decisions")
        let resets = first.filter { $0 == .reset }.count
        // Binomial(40, 0.5): 8…32 is beyond 3.7 σ; a fixed seed makes this deterministic.
        XCTAssertTrue((8...32).contains(resets), "probability=0.5 reset \(resets) of 40 connections")
    }

    /// Timer faults decide per connection the same way: tcp.reset_peer with p = 0.5 under
    /// one seed resets the same connections twice.
    func testSeedReplaysResetPeerDecisions() throws {
        let fault = "tcp.reset_peer:after=0,probability=0.5"
        let first = try pattern(seed: 7, fault: fault, count: 24)
        let again = try pattern(seed: 7, fault: fault, count: 24)
        print("reset_peer seed 7: \(render(first)) / \(render(again))")
        XCTAssertEqual(render(first), render(again))
        XCTAssertTrue(first.contains(.reset) && first.contains(.passed), "p = 0.5 over 24 connections: \(render(first))")
    }

    /// `--seed` on the command line is the same knob: two `faultline proxy` processes with
    /// --seed 7 make the same decisions (a random seed would almost surely differ).
    func testCommandLineSeedReplaysDecisions() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        var patterns: [String] = []
        for _ in 0..<2 {
            let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(echo.port)",
                                               ["--seed", "7", "--fault", "tcp.down:mode=reset,probability=0.5"])
            patterns.append(render((0..<30).map { _ in ProbeOutcome.probe(port: proxy.port) }))
            proxy.process.stop()
        }
        print("--seed 7: \(patterns[0]) / \(patterns[1])")
        XCTAssertEqual(patterns[0], patterns[1], "--seed 7 twice should decide alike")
        XCTAssertTrue(patterns[0].contains("R") && patterns[0].contains("."), "p = 0.5 over 30: \(patterns[0])")
        XCTAssertFalse(patterns[0].contains("?"), "unexpected outcomes: \(patterns[0])")
    }

    /// probability=0 applies to no connection at all: no reset, no added delay, and a byte
    /// fault does not even move links off the splice path.
    func testProbabilityZeroChangesNothing() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: [
            "tcp.latency:ms=300,probability=0",
            "tcp.down:mode=reset,probability=0",
            "tcp.reset_peer:after=0,probability=0",
            "tcp.slicer:size=1,delay=1ms,probability=0",
        ], seed: 1)
        defer { proxy.stop() }
        for index in 0..<20 {
            let client = try Sock.connect(port: proxy.port, timeout: 5)
            defer { Sock.close(client) }
            let rtt = try Sock.roundTrip(client, Array("connection \(index) says hello\n".utf8))
            XCTAssertLessThan(rtt, 0.2, "connection \(index) took \(rtt) s: latency 300 ms applied at probability 0?")
        }
        let stats = try proxy.stats
        XCTAssertEqual(stats.accepted, 20)
        XCTAssertGreaterThan(stats.bytesDirect, 0)
        XCTAssertEqual(stats.bytesBuffered, 0, "a byte fault at probability 0 moved links to the buffered path")
    }

    // MARK: first and every

    /// first=3: the first three connections are refused upstream (EOF, no upstream
    /// connection), every later one passes.
    func testFirstAppliesToTheFirstNConnectionsOnly() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", faults: ["tcp.refuse_upstream:first=3"])
        defer { proxy.stop() }
        let outcomes = (0..<8).map { _ in ProbeOutcome.probe(port: proxy.port) }
        XCTAssertEqual(outcomes, [.eof, .eof, .eof] + Array(repeating: .passed, count: 5))
        XCTAssertEqual(echo.accepted.current, 5, "only the connections after the first 3 reach the upstream")
        XCTAssertEqual(try proxy.stats.upstreamFailures, 3)
    }

    /// every=3: the 3rd, 6th and 9th connections are reset, the others pass.
    func testEveryAppliesToEveryNthConnection() throws {
        let outcomes = try pattern(seed: 0, fault: "tcp.down:mode=reset,every=3", count: 10)
        XCTAssertEqual(render(outcomes), "..R..R..R.", "every=3 should hit connections 3, 6, 9")
    }

    /// Counting starts when the fault is added: connections before it do not count toward
    /// `first`, so a fault added mid-run still hits the next N connections.
    func testFirstCountsFromWhenTheFaultIsAdded() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try InProcessProxy(upstream: "127.0.0.1:\(echo.port)", path: .splice)
        defer { proxy.stop() }
        let before = (0..<3).map { _ in ProbeOutcome.probe(port: proxy.port) }
        // A fault also counts the links open when it is added; let those three close first.
        XCTAssertTrue(waitUntil(timeout: 2) { (try? proxy.stats.open) == 0 })
        try proxy.add("tcp.down:mode=reset,first=2")
        let after = (0..<4).map { _ in ProbeOutcome.probe(port: proxy.port) }
        XCTAssertEqual(render(before), "...")
        XCTAssertEqual(render(after), "RR..", "first=2 added after 3 connections should hit the next 2")
    }
}
