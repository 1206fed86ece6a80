import Foundation
import XCTest

/// Numbers and values the CLI used to trap on (SIGILL on a huge duration) or accept although
/// they mean nothing: each is refused with exit status 2 and one line naming the flag, the
/// value and, for a number, its range; nothing starts listening.
final class InputRefusalTests: IntegrationCase {
    /// `faultline proxy` with `arguments` after a valid listen and upstream, as a user types it.
    private func proxy(_ arguments: [String], upstream: String = "127.0.0.1:9") throws -> (Termination?, stdout: String, stderr: String) {
        try runCommand(try faultlineBinary(), ["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream] + arguments, timeout: 10)
    }

    private func assertRefused(_ arguments: [String], upstream: String = "127.0.0.1:9", _ message: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let (ended, _, stderr) = try proxy(arguments, upstream: upstream)
        XCTAssertEqual(ended, .exited(2), "\(arguments): \(stderr)", file: file, line: line)
        XCTAssertEqual(stderr, "faultline: \(message)\n", "\(arguments)", file: file, line: line)
    }

    func testHugeFaultNumbersExitTwoWithTheRange() throws {
        let durations = "is out of range: durations go from 0 to 8760h (1 year)"
        try assertRefused(["--fault", "tcp.latency:ms=99999999999h"],
                          "--fault: invalid fault 'tcp.latency': parameter 'ms': '99999999999h' \(durations)")
        try assertRefused(["--fault", "tcp.latency:ms=9223372036854775807"],
                          "--fault: invalid fault 'tcp.latency': parameter 'ms': '9223372036854775807' \(durations)")
        try assertRefused(["--fault", "tcp.bandwidth:rate=99999999999GB"],
                          "--fault: invalid fault 'tcp.bandwidth': parameter 'rate': '99999999999GB' is out of range: "
                            + "rates go from 1B to 100GB per second")
        try assertRefused(["--fault", "tcp.slicer:size=99999999999999GB"],
                          "--fault: invalid fault 'tcp.slicer': parameter 'size': '99999999999999GB' is out of range: "
                            + "sizes go from 0 to 1TB")
        try assertRefused(["--fault", "tcp.slicer:size=64,variation=128"],
                          "--fault: invalid fault 'tcp.slicer': parameter 'variation': '128' must be below size (64): "
                            + "every slice holds at least 1 byte")
    }

    /// One range for every refused timeout: "durations go from 0" offered the 0 it refuses.
    func testConnectTimeoutOutOfRangeOrZeroIsRefused() throws {
        for value in ["99999999999h", "0s", "-1s"] {
            try assertRefused(["--connect-timeout", value],
                              "--connect-timeout: '\(value)' is out of range: a connect timeout goes from 1us to 8760h (1 year), e.g. 500ms or 10s")
        }
    }

    /// A second --listen or --upstream was silently taken over the first.
    func testListenAndUpstreamAreGivenOnce() throws {
        try assertRefused(["--listen", "127.0.0.1:1"], "--listen: given 2 times ('127.0.0.1:0', '127.0.0.1:1'): give it once")
        try assertRefused(["--upstream", "127.0.0.1:10"], "--upstream: given 2 times ('127.0.0.1:9', '127.0.0.1:10'): give it once")
        let (ended, _, stderr) = try runCommand(try faultlineBinary(), ["proxy", "--upstream", "127.0.0.1:9"], timeout: 10)
        XCTAssertEqual(ended, .exited(2), stderr)
        XCTAssertEqual(stderr, "faultline: --listen: missing; give it once, e.g. --listen 127.0.0.1:16379\n")
    }

    /// Two faults with one name: the first was logged as on before the second failed.
    func testTwoFaultsWithOneNameAreRefusedBeforeAnythingStarts() throws {
        try assertRefused(["--fault", "tcp.latency:ms=100", "--fault", "tcp.latency:ms=200"],
                          "--fault: two faults are named tcp.latency_downstream: give one of them a name (tcp.latency:ms=200,name=latency2)")
        try assertRefused(["--fault", "tcp.down:name=x", "--fault", "tcp.cutoff:after=1s,name=x"],
                          "--fault: two faults are named x: give one of them a name (tcp.cutoff:after=1s,name=x2)")
    }

    func testAnUpstreamPortOutOfRangeGivesTheUpstreamRange() throws {
        try assertRefused([], upstream: "127.0.0.1:70000",
                          "--upstream: invalid address '127.0.0.1:70000': port '70000' is not a number from 1 to 65535")
    }

    /// ArgumentParser took `-1` for a flag and said "Missing value for '--seed <seed>'".
    func testNegativeSeedsNameTheValue() throws {
        let seeds = "is out of range: seeds go from 0 to 18446744073709551615"
        try assertRefused(["--seed", "-1"], "--seed: '-1' \(seeds)")
        try assertRefused(["--seed", "18446744073709551616"], "--seed: '18446744073709551616' \(seeds)")
        let run = try runCommand(try faultlineBinary(), ["run", "no-such.yaml", "--seed", "-1"], timeout: 10)
        XCTAssertEqual(run.0, .exited(2), run.stderr)
        XCTAssertEqual(run.stderr, "faultline: --seed: '-1' \(seeds)\n")
    }

    func testAnUpstreamOnPortZeroIsRefused() throws {
        try assertRefused([], upstream: "127.0.0.1:0",
                          "--upstream: invalid address '127.0.0.1:0': port 0 cannot be connected to; an upstream port goes from 1 to 65535")
    }

    func testFaultsOfAnotherProtocolAndUnknownProtocolsAreRefused() throws {
        try assertRefused(["--protocol", "redis", "--fault", "http.respond:status=404"],
                          "--fault: invalid fault 'http.respond': acts on HTTP requests, and proxy 'proxy' speaks redis "
                          + "(give it protocol: http in a scenario, --protocol http on faultline proxy)")
        try assertRefused(["--protocol", "tcp", "--fault", "redis.hang"],
                          "--fault: invalid fault 'redis.hang': acts on Redis commands, and proxy 'proxy' speaks tcp "
                          + "(give it protocol: redis in a scenario, --protocol redis on faultline proxy)")
        try assertRefused(["--protocol", "foo"], "--protocol: 'foo' is not a protocol; expected tcp, redis or http")
    }

    /// A huge duration used to trap `check` and lose every other mistake in the file.
    func testCheckReportsAHugeDurationAndTheOtherMistakes() throws {
        let folder = NSTemporaryDirectory() + "faultline-refusal-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = "\(folder)/huge.yaml"
        try """
            proxies:
              p: { listen: 127.0.0.1:16379, upstream: 127.0.0.1:6379, protocol: redis }
            timeline:
              - phase: outage
                for: 99999999999h
              - phase: later
                for: 0x10s
            expect:
              - first_success_within: 9223372036854775807s
              - quiet_after_failures: {failures: 0, quiet: 10s}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let (ended, stdout, stderr) = try runCommand(try faultlineBinary(), ["check", path], timeout: 30)
        XCTAssertEqual(ended, .exited(2), stderr)
        XCTAssertEqual(stdout, "")
        XCTAssertEqual(stderr.split(separator: "\n"), [
            "\(path):5:10: for: '99999999999h' is out of range: durations go from 0 to 8760h (1 year)",
            "\(path):7:10: for: expected a duration such as 250ms, 2s or 1m, found '0x10s'",
            "\(path):9:27: first_success_within: '9223372036854775807s' is out of range: durations go from 0 to 8760h (1 year)",
            "\(path):10:38: failures: '0' is out of range: 'failures' goes from 1 to 2147483647",
        ])
    }
}
