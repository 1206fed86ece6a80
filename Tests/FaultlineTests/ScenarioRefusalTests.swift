import Faultline
import XCTest

/// Scenario values that used to trap, or were accepted and then meant nothing (or something
/// else), are refused at their position with a message naming the value; a number out of
/// range hides no other mistake in the file.
final class ScenarioRefusalTests: XCTestCase {
    /// One proxy and one phase; the value under test replaces `VALUE` on line 7, column 10.
    private static let template = """
        proxies:
          p:
            listen: 127.0.0.1:16379
            upstream: 127.0.0.1:6379
        timeline:
          - phase: outage
            for: VALUE
        expect:
          - quiet_after_failures: {failures: 5, quiet: 10s}
          - first_success_within: 35s

        """

    private func errors(_ yaml: String) -> [String] { InputCheck.errors(yaml) }

    private func errors(for value: String, replacing: String = "VALUE", in yaml: String = template) -> [String] {
        errors(yaml.replacingOccurrences(of: replacing, with: value).replacingOccurrences(of: "VALUE", with: "30s"))
    }

    func testHugeDurationsAreOutOfRangeAndEveryOtherMistakeIsStillReported() {
        let range = "is out of range: durations go from 0 to 8760h (1 year)"
        XCTAssertEqual(errors(for: "99999999999h"), ["s.yaml:7:10: for: '99999999999h' \(range)"])
        XCTAssertEqual(errors(for: "9223372036854775807s"), ["s.yaml:7:10: for: '9223372036854775807s' \(range)"])
        XCTAssertEqual(errors(for: "99999999999h", replacing: "35s"), ["s.yaml:10:27: first_success_within: '99999999999h' \(range)"])
        XCTAssertEqual(errors(for: "99999999999h\n    colour: red"), [
            "s.yaml:7:10: for: '99999999999h' \(range)",
            "s.yaml:8:5: unknown key 'colour' in phase 'outage'; expected phase, for or faults",
        ])
    }

    func testNumbersAreDecimalDigitsOnly() {
        XCTAssertEqual(errors(for: "0x10s"), ["s.yaml:7:10: for: expected a duration such as 250ms, 2s or 1m, found '0x10s'"])
        XCTAssertEqual(errors(for: "-1s"), ["s.yaml:7:10: for: '-1s' is out of range: durations go from 0 to 8760h (1 year)"])
        XCTAssertEqual(errors(for: "seed: -1\nproxies:", replacing: "proxies:"), [
            "s.yaml:1:7: seed: '-1' is out of range: seeds go from 0 to 18446744073709551615",
        ])
        XCTAssertEqual(errors(for: "seed: 0x10\nproxies:", replacing: "proxies:"), [
            "s.yaml:1:7: seed: expected a whole number ≥ 0, found '0x10'",
        ])
        XCTAssertEqual(errors(for: "failures: 1e3", replacing: "failures: 5"), [
            "s.yaml:9:38: failures: expected a whole number ≥ 1 such as 5, found '1e3'",
        ])
        XCTAssertEqual(errors(for: "failures: 9223372036854775807", replacing: "failures: 5"), [
            "s.yaml:9:38: failures: '9223372036854775807' is out of range: 'failures' goes from 1 to 2147483647",
        ])
    }

    func testAQuietAfterNoFailuresIsRefused() {
        XCTAssertEqual(errors(for: "failures: 0", replacing: "failures: 5"), [
            "s.yaml:9:38: failures: '0' is out of range: 'failures' goes from 1 to 2147483647",
        ])
    }

    func testAnUpstreamOnPortZeroIsRefused() {
        XCTAssertEqual(errors(for: "127.0.0.1:0", replacing: "127.0.0.1:6379"), [
            "s.yaml:4:15: upstream: invalid address '127.0.0.1:0': port 0 cannot be connected to; an upstream port goes from 1 to 65535",
        ])
        XCTAssertEqual(errors(for: "127.0.0.1:0", replacing: "127.0.0.1:16379"), [], "listen: port 0 picks a free port")
    }

    /// A protocol that does not exist must not silently run as TCP.
    func testUnknownProtocolsAreNotIgnored() {
        XCTAssertEqual(errors(for: "    protocol: http\ntimeline:", replacing: "timeline:"), [])
        XCTAssertEqual(errors(for: "    protocol: redis\ntimeline:", replacing: "timeline:"), [])
        XCTAssertEqual(errors(for: "    protocol: foo\ntimeline:", replacing: "timeline:"), [
            "s.yaml:5:15: protocol: 'foo' is not a protocol; expected tcp, redis or http",
        ])
        XCTAssertEqual(errors(for: "    protocol: tcp\ntimeline:", replacing: "timeline:"), [])
    }

    /// `tls:` and `upstream_tls:` were refused until faultline spoke TLS; now they are read
    /// (ScenarioTLSKeysTests has the rest), and a `ca:` that is not there is refused at load.
    func testTLSKeysAreReadNoLongerRefused() throws {
        let keys = "    tls: { profile: valid, host: localhost }\n    upstream_tls: { verify: true }\ntimeline:"
        XCTAssertEqual(errors(for: keys, replacing: "timeline:"), [])
        let yaml = Self.template.replacingOccurrences(of: "timeline:", with: keys).replacingOccurrences(of: "VALUE", with: "30s")
        let proxy = try XCTUnwrap(try ScenarioLoader.load(yaml: yaml, file: "s.yaml").proxy(named: "p"))
        XCTAssertEqual(proxy.tls, ServerTLS(profile: .valid, hosts: ["localhost"], key: .ec))
        XCTAssertEqual(proxy.upstreamTLS, UpstreamTLS(verify: true))
        let missingCA = "    upstream_tls: { verify: true, ca: ./ca.pem }\ntimeline:"
        XCTAssertEqual(errors(for: missingCA, replacing: "timeline:"), ["s.yaml:5:39: ca: cannot read ca.pem: No such file or directory"])
    }

    /// `run` refuses a proxy whose upstream is its own listen address; `check` used to say ok.
    func testAProxyPointedAtItselfIsRefusedAtItsUpstream() {
        XCTAssertEqual(errors(for: "localhost:16379", replacing: "127.0.0.1:6379"), [
            "s.yaml:4:15: upstream localhost:16379 is this proxy's own listen address (listen 127.0.0.1:16379): it would connect to itself",
        ])
        XCTAssertEqual(errors(for: "127.0.0.1:16379", replacing: "127.0.0.1:6379"), [
            "s.yaml:4:15: upstream 127.0.0.1:16379 is this proxy's own listen address: it would connect to itself",
        ])
        XCTAssertEqual(errors(for: "0.0.0.0:6379", replacing: "127.0.0.1:16379"), [
            "s.yaml:4:15: upstream 127.0.0.1:6379 is this proxy's own listen address (listen 0.0.0.0:6379): it would connect to itself",
        ])
        XCTAssertEqual(errors(for: "127.0.0.1:0", replacing: "127.0.0.1:16379"), [], "port 0 listens on a free port")
    }

    func testASlicerVariationOfItsSizeOrMoreIsRefused() {
        let phase = "30s\n    faults:\n      - tcp.slicer: { size: 64, variation: SPREAD }"
        XCTAssertEqual(errors(for: phase.replacingOccurrences(of: "SPREAD", with: "64")), [
            "s.yaml:9:44: tcp.slicer parameter 'variation': '64' must be below size (64): every slice holds at least 1 byte",
        ])
        XCTAssertEqual(errors(for: phase.replacingOccurrences(of: "SPREAD", with: "63")), [])
    }

    /// `tcp.down` has no direction, so its default name has none either.
    func testKindsWithoutADirectionAreNamedByTheirKind() throws {
        let phase = "30s\n    faults:\n      - tcp.down: { mode: reset }\n      - tcp.latency: { ms: 5 }"
        let yaml = Self.template.replacingOccurrences(of: "VALUE", with: phase)
        let scenario = try ScenarioLoader.load(yaml: yaml, file: "s.yaml")
        XCTAssertEqual(scenario.timeline.first?.faults.map(\.fault.name), ["tcp.down", "tcp.latency_downstream"])
    }
}
