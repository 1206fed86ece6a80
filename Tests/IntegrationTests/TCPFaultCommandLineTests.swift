import Faultline
import Glibc
import XCTest

/// `--fault` on `faultline proxy` and the `faultline faults` listing, through the binary.
/// A typo in a chaos test's fault must stop the run with exit 2 and a message that names
/// what to fix, never start a proxy that silently injects nothing.
final class TCPFaultCommandLineTests: IntegrationCase {
    /// Runs `faultline proxy` with one `--fault` that must be rejected; returns stderr.
    private func rejected(_ spec: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let (ended, _, stderr) = try runCommand(try faultlineBinary(),
                                                ["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--fault", spec],
                                                timeout: 5)
        XCTAssertEqual(ended, .exited(2), "--fault \(spec) should exit 2; stderr:\n\(stderr)", file: file, line: line)
        XCTAssertTrue(stderr.contains("--fault"), "the message should name the flag:\n\(stderr)", file: file, line: line)
        XCTAssertFalse(stderr.contains("listening on"), "a bad --fault must not start the proxy:\n\(stderr)", file: file, line: line)
        return stderr
    }

    private func assertMentions(_ text: String, _ needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        for needle in needles {
            XCTAssertTrue(text.contains(needle), "expected \"\(needle)\" in:\n\(text)", file: file, line: line)
        }
    }

    func testUnknownKindExitsTwoListingKnownKinds() throws {
        let stderr = try rejected("tcp.latancy:ms=100")
        assertMentions(stderr, ["tcp.latancy", "unknown fault kind", "tcp.latency"])
    }

    func testUnknownParameterExitsTwoNamingItAndSuggesting() throws {
        let stderr = try rejected("tcp.latency:ms=100,jiter=10")
        assertMentions(stderr, ["parameter 'jiter'", "did you mean 'jitter'"])
    }

    func testBadDurationExitsTwoNamingTheParameter() throws {
        assertMentions(try rejected("tcp.latency:ms=fast"), ["parameter 'ms'", "'fast'"])
        assertMentions(try rejected("tcp.cutoff:after=2 s"), ["parameter 'after'"])
    }

    func testBadProbabilityExitsTwoNamingTheParameter() throws {
        assertMentions(try rejected("tcp.latency:ms=1,probability=1.5"), ["parameter 'probability'", "'1.5'"])
        assertMentions(try rejected("tcp.reset_peer:probability=often"), ["parameter 'probability'"])
    }

    /// The other ways a fault can be wrong name their parameter too.
    func testMissingOrInconsistentParametersExitTwoNamingThem() throws {
        assertMentions(try rejected("tcp.bandwidth"), ["parameter 'rate'", "required"])
        assertMentions(try rejected("tcp.down:mode=sometimes"), ["parameter 'mode'", "'sometimes'"])
        assertMentions(try rejected("tcp.down:mode=refuse,probability=0.5"), ["parameter 'mode'"])
        assertMentions(try rejected("tcp.cutoff:how=rst"), ["parameter 'after'"])
        assertMentions(try rejected("tcp.latency:ms=1,every=0"), ["parameter 'every'"])
        assertMentions(try rejected("tcp.latency:ms=1,direction=sideways"), ["parameter 'direction'"])
    }

    /// `faultline faults` is generated from the registry: every kind is listed, each with
    /// every one of its parameters, in a section of its own.
    func testFaultsListsEveryKindInTheRegistry() throws {
        let (ended, stdout, stderr) = try runCommand(try faultlineBinary(), ["faults"], timeout: 5)
        XCTAssertEqual(ended, .exited(0), stderr)
        let lines = stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertGreaterThanOrEqual(FaultRegistry.kinds.count, 11, "the TCP kinds of SPEC are all registered")
        for kind in FaultRegistry.kinds {
            guard let header = lines.firstIndex(where: { $0 == kind.name || $0.hasPrefix(kind.name + " ") }) else {
                XCTFail("faultline faults does not list \(kind.name)")
                continue
            }
            let section = lines[header...].prefix { !$0.isEmpty }.joined(separator: "\n")
            for parameter in kind.parameters {
                XCTAssertTrue(section.contains("    \(parameter.name) "), "\(kind.name)'s section lacks its parameter \(parameter.name):\n\(section)")
            }
            XCTAssertTrue(section.contains("example: --fault \(kind.name)"), "\(kind.name) has no example:\n\(section)")
        }
        for name in ["tcp.latency", "tcp.bandwidth", "tcp.slicer", "tcp.slow_close", "tcp.timeout", "tcp.reset_peer",
                     "tcp.limit_data", "tcp.down", "tcp.connect_delay", "tcp.cutoff", "tcp.refuse_upstream"] {
            XCTAssertNotNil(FaultRegistry.kind(named: name), "SPEC's \(name) is not in the registry")
        }
    }

    /// Several --fault flags through the binary all act: latency delays the echo, and the
    /// cutoff ends the link with a FIN at 600 ms.
    func testFaultFlagsActOnTheProxy() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(echo.port)",
                                           ["--fault", "tcp.latency:ms=150", "--fault", "tcp.cutoff:after=600ms"])
        let started = monotonicSeconds()
        let client = try Sock.connect(port: proxy.port, timeout: 5)
        defer { Sock.close(client) }
        let rtt = try Sock.roundTrip(client, Array("ping\n".utf8))
        XCTAssertGreaterThanOrEqual(rtt, 0.145, "--fault tcp.latency:ms=150 gave a round trip of \(rtt) s")
        XCTAssertLessThanOrEqual(rtt, 0.4)
        XCTAssertEqual(Sock.receiveOnce(client).outcome, .eof)
        let elapsed = monotonicSeconds() - started
        XCTAssertGreaterThanOrEqual(elapsed, 0.59, "--fault tcp.cutoff:after=600ms cut after \(elapsed) s")
        XCTAssertLessThanOrEqual(elapsed, 1.2)
        XCTAssertTrue(proxy.process.isRunning)
    }

    /// --fault tcp.down (mode=refuse by default) given at start: the port is closed from
    /// the beginning, so connects are refused while the process keeps running, and the log
    /// says so right after "listening on" (which alone read as if the port were open).
    func testDownAtStartupRefusesConnects() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try ProxyProcess.start(upstream: "127.0.0.1:\(echo.port)", ["--fault", "tcp.down"])
        let closed = "port 127.0.0.1:\(proxy.port) closed by tcp.down (mode=refuse): connects are refused until the fault ends"
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.process.stderrText.contains(closed) }, proxy.process.stderrText)
        XCTAssertEqual(ProbeOutcome.probe(port: proxy.port), .refused)
        XCTAssertTrue(proxy.process.isRunning, "tcp.down must close the port, not stop the proxy")
        XCTAssertEqual(echo.accepted.current, 0)
        XCTAssertEqual(proxy.process.stop(), .exited(0))
    }
}
