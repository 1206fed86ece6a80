import Faultline
import Foundation
import Logging
import XCTest

/// The TLS flags of `faultline proxy` and the TLS keys of a scenario as a user meets them:
/// a mistake exits 2 with one line naming the flag (or `file:line:col`) before anything
/// listens; a refinement given without what it refines is refused, never taken as implied.
final class ProxyTLSFlagTests: IntegrationCase {
    private static let profiles = "valid, incomplete_chain, expired, not_yet_valid, wrong_host, self_signed, untrusted_root, "
        + "weak_signature or weak_key"

    private func assertRefused(_ arguments: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (ended, stdout, stderr) = try runCommand(try faultlineBinary(),
                                                     ["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"] + arguments,
                                                     timeout: 10)
        XCTAssertEqual(ended, .exited(2), "\(arguments): \(stderr)", file: file, line: line)
        XCTAssertEqual(stdout, "", file: file, line: line)
        XCTAssertEqual(stderr, "faultline: \(message)\n", "\(arguments)", file: file, line: line)
    }

    private func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "faultline-tls-flags-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        return folder
    }

    func testABadTLSProfileExitsTwoWithTheProfiles() throws {
        try assertRefused(["--tls-profile", "expird"],
                          "--tls-profile: 'expird' is not a certificate profile (did you mean 'expired'?); expected \(Self.profiles)")
        try assertRefused(["--tls-profile", "green"], "--tls-profile: 'green' is not a certificate profile; expected \(Self.profiles)")
        try assertRefused(["--tls-profile", "valid", "--tls-profile", "expired"], "--tls-profile: given 2 times ('valid', 'expired'): give it once")
    }

    func testHostAndKeyNeedAProfile() throws {
        try assertRefused(["--tls-host", "api.example.com"],
                          "--tls-host: needs --tls-profile, which turns on TLS toward clients (e.g. --tls-profile valid)")
        try assertRefused(["--tls-key", "rsa"], "--tls-key: needs --tls-profile, which turns on TLS toward clients (e.g. --tls-profile valid)")
    }

    func testBadHostsAndKeys() throws {
        try assertRefused(["--tls-profile", "valid", "--tls-host", "localhost:8443"],
                          "--tls-host: 'localhost:8443' is not a host name: leave the port out (localhost)")
        try assertRefused(["--tls-profile", "valid", "--tls-host", "localhost", "--tls-host", "my host"],
                          "--tls-host: 'my host' is not a host name: it holds a space or a control character "
                            + "(e.g. localhost, api.example.com or 127.0.0.1)")
        try assertRefused(["--tls-profile", "valid", "--tls-key", "dsa"], "--tls-key: 'dsa' is not a key type; expected ec or rsa")
        try assertRefused(["--tls-profile", "weak_key", "--tls-key", "ec"],
                          "--tls-key: 'ec' does not go with profile weak_key, whose leaf has an RSA-1024 key; leave the key out")
    }

    func testUpstreamRefinementsWithoutUpstreamTLSSayToAddIt() throws {
        let add = "needs --upstream-tls: add --upstream-tls to speak TLS to the upstream"
        try assertRefused(["--upstream-ca", "ca.pem"], "--upstream-ca: \(add)")
        try assertRefused(["--upstream-sni", "redis.internal"], "--upstream-sni: \(add)")
        try assertRefused(["--upstream-insecure"], "--upstream-insecure: \(add)")
        try assertRefused(["--upstream-no-verify"], "--upstream-no-verify: \(add)")
    }

    func testAnUpstreamCAThatCannotBeReadIsNamed() throws {
        let folder = try temporaryFolder()
        try assertRefused(["--upstream-tls", "--upstream-ca", "\(folder)/nope.pem"],
                          "--upstream-ca: cannot read \(folder)/nope.pem: No such file or directory")
        try assertRefused(["--upstream-tls", "--upstream-ca", folder], "--upstream-ca: \(folder) is a directory, not a PEM file of certificates")
        try "hello\n".write(toFile: "\(folder)/key.txt", atomically: true, encoding: .utf8)
        try assertRefused(["--upstream-tls", "--upstream-ca", "\(folder)/key.txt"],
                          "--upstream-ca: \(folder)/key.txt holds no PEM certificate (a line -----BEGIN CERTIFICATE-----)")
        try assertRefused(["--upstream-tls", "--upstream-sni", "10.0.0.1"],
                          "--upstream-sni: '10.0.0.1' is an IP address, which SNI cannot carry: leave it out and the upstream's address is checked")
    }

    /// `check` points at the TLS key's value in the file, as for any other mistake.
    func testCheckReportsTLSKeyMistakesAtTheirPosition() throws {
        let folder = try temporaryFolder()
        let path = "\(folder)/tls.yaml"
        try """
            proxies:
              api:
                listen: 127.0.0.1:18443
                upstream: 127.0.0.1:8443
                tls: { profile: expird, host: localhost }
                upstream_tls: { verify: true, insecure: true, ca: ./missing.pem }
            timeline:
              - phase: outage
                for: 5s

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let (ended, stdout, stderr) = try runCommand(try faultlineBinary(), ["check", path], timeout: 30)
        XCTAssertEqual(ended, .exited(2), stderr)
        XCTAssertEqual(stdout, "")
        XCTAssertEqual(stderr.split(separator: "\n"), [
            "\(path):5:21: profile: 'expird' is not a certificate profile (did you mean 'expired'?); expected \(Self.profiles)",
            "\(path):6:45: insecure: true checks nothing, so it contradicts verify: true (at 6:29); keep one of them",
            "\(path):6:55: ca: cannot read \(folder)/missing.pem: No such file or directory",
        ])
    }

    /// A run's proxies get the scenario's `tls:` and `upstream_tls:` in their options.
    func testARunSessionGivesEachProxyItsTLS() throws {
        let folder = try temporaryFolder()
        try CertificateAuthority.openOrCreate(directory: "\(folder)/ca-cache").rootPEM
            .write(toFile: "\(folder)/ca.pem", atomically: true, encoding: .utf8)
        try """
            proxies:
              secure:
                listen: 127.0.0.1:0
                upstream: 127.0.0.1:8443
                tls: { profile: incomplete_chain, host: [localhost, 127.0.0.1], key: rsa }
                upstream_tls: { ca: ./ca.pem, sni: api.internal }
              plain: { listen: 127.0.0.1:0, upstream: 127.0.0.1:8080 }
            timeline:
              - phase: outage
                for: 1s

            """.write(toFile: "\(folder)/s.yaml", atomically: true, encoding: .utf8)
        let scenario = try ScenarioLoader.load(path: "\(folder)/s.yaml")
        let loop = try EventLoop()
        let session = RunSession(proxies: scenario.proxies.map(ProxyPlan.init), phases: [], wholeRun: [], seed: 1, command: nil,
                                 stopWithCommand: false, killAfter: .seconds(1), loop: loop, logger: Logger(label: "test"))
        let secure = try XCTUnwrap(session.proxies["secure"])
        XCTAssertEqual(secure.options.tls, ServerTLS(profile: .incompleteChain, hosts: ["localhost", "127.0.0.1"], key: .rsa))
        XCTAssertEqual(secure.options.upstreamTLS, UpstreamTLS(verify: true, caFile: "\(folder)/ca.pem", sni: "api.internal"))
        let plain = try XCTUnwrap(session.proxies["plain"])
        XCTAssertNil(plain.options.tls)
        XCTAssertNil(plain.options.upstreamTLS)
        withExtendedLifetime(loop) {}
    }
}
