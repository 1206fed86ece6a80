import Faultline
import Foundation
import XCTest

/// A proxy's `tls:` and `upstream_tls:`: what they become, their defaults, and every mistake
/// at the position of the key or value it is about, with the message a user reads.
final class ScenarioTLSKeysTests: XCTestCase {
    /// One proxy `p`; `KEYS` (lines from 5 on) go into its mapping.
    private static let template = """
        proxies:
          p:
            listen: 127.0.0.1:16379
            upstream: 127.0.0.1:6379
        KEYS
        timeline:
          - phase: outage
            for: 30s

        """

    private static let profiles = "valid, incomplete_chain, expired, not_yet_valid, wrong_host, self_signed, untrusted_root, "
        + "weak_signature or weak_key"

    private func yaml(_ keys: String) -> String { Self.template.replacingOccurrences(of: "KEYS", with: keys) }

    private func proxy(_ keys: String, file: String = "s.yaml") throws -> ScenarioProxy {
        try XCTUnwrap(try ScenarioLoader.load(yaml: yaml(keys), file: file).proxy(named: "p"))
    }

    private func errors(_ keys: String, file: String = "s.yaml") -> [String] {
        do {
            _ = try ScenarioLoader.load(yaml: yaml(keys), file: file)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    /// A folder with `scenario/ca.pem` and `scenario/certs/ca.pem`; removed at the test's end.
    private func folderWithCAFiles() throws -> String {
        let folder = NSTemporaryDirectory() + "faultline-tls-keys-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder + "/scenario/certs", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        // A real certificate: check reads the file as OpenSSL will.
        let pem = try CertificateAuthority.openOrCreate(directory: folder + "/ca-cache").rootPEM
        try pem.write(toFile: folder + "/scenario/ca.pem", atomically: true, encoding: .utf8)
        try pem.write(toFile: folder + "/scenario/certs/ca.pem", atomically: true, encoding: .utf8)
        try "not a certificate\n".write(toFile: folder + "/scenario/key.txt", atomically: true, encoding: .utf8)
        return folder
    }

    // MARK: tls

    func testAProxyWithoutTLSKeysIsPlain() throws {
        let plain = try proxy("    protocol: tcp")
        XCTAssertNil(plain.tls)
        XCTAssertNil(plain.upstreamTLS)
    }

    func testAnEmptyTLSMappingTakesEveryDefault() throws {
        XCTAssertEqual(try proxy("    tls: {}").tls, ServerTLS(profile: .valid, hosts: ["localhost"], key: .ec))
        XCTAssertEqual(try proxy("    upstream_tls: {}").upstreamTLS, UpstreamTLS(verify: true, caFile: nil, sni: nil, insecure: false))
    }

    func testAFlowMappingWithOneHost() throws {
        XCTAssertEqual(try proxy("    tls: { profile: incomplete_chain, host: api.example.com }").tls,
                       ServerTLS(profile: .incompleteChain, hosts: ["api.example.com"], key: .ec))
    }

    func testABlockMappingWithAListOfHostsAndAnRSAKey() throws {
        let keys = """
                tls:
                  profile: expired
                  host:
                    - localhost
                    - 127.0.0.1
                    - "::1"
                    - "*.example.com"
                  key: rsa
            """
        XCTAssertEqual(try proxy(keys).tls, ServerTLS(profile: .expired, hosts: ["localhost", "127.0.0.1", "::1", "*.example.com"], key: .rsa))
        XCTAssertEqual(try proxy("    tls: { host: [localhost, 10.0.0.1], key: rsa }").tls,
                       ServerTLS(profile: .valid, hosts: ["localhost", "10.0.0.1"], key: .rsa))
    }

    func testEveryProfileIsReadByItsName() throws {
        for profile in CertificateProfile.allCases {
            XCTAssertEqual(try proxy("    tls: { profile: \(profile.rawValue) }").tls?.profile, profile)
        }
        XCTAssertEqual(try proxy("    tls: { profile: weak_key, key: rsa }").tls, ServerTLS(profile: .weakKey, hosts: ["localhost"], key: .rsa))
    }

    func testTLSMustBeAMappingAndSaysWhatToWrite() {
        let expected = "tls: expected a mapping such as { profile: valid, host: localhost } ({} for the defaults)"
        XCTAssertEqual(errors("    tls: true"), ["s.yaml:5:10: \(expected), found 'true'"])
        XCTAssertEqual(errors("    tls: valid"), ["s.yaml:5:10: \(expected), found 'valid'"])
        XCTAssertEqual(errors("    tls: [valid]"), ["s.yaml:5:10: \(expected), found a list"])
        XCTAssertEqual(errors("    tls: ~"), ["s.yaml:5:10: \(expected), found nothing"])
    }

    func testUnknownKeysInTLSSuggestTheClosest() {
        XCTAssertEqual(errors("    tls: { hosts: localhost }"), ["s.yaml:5:12: unknown key 'hosts' in tls of proxy 'p' (did you mean 'host'?)"])
        XCTAssertEqual(errors("    tls: { colour: red }"),
                       ["s.yaml:5:12: unknown key 'colour' in tls of proxy 'p'; expected profile, host or key"])
    }

    func testAnUnknownProfileListsTheProfiles() {
        XCTAssertEqual(errors("    tls: { profile: expird }"), [
            "s.yaml:5:21: profile: 'expird' is not a certificate profile (did you mean 'expired'?); expected \(Self.profiles)",
        ])
        XCTAssertEqual(errors("    tls: { profile: green }"), [
            "s.yaml:5:21: profile: 'green' is not a certificate profile; expected \(Self.profiles)",
        ])
        XCTAssertEqual(errors("    tls: { profile: [valid] }"), [
            "s.yaml:5:21: profile: expected a certificate profile such as valid, found a list",
        ])
    }

    func testKeyIsEcOrRsaAndWeakKeyIsAlwaysRSA() {
        XCTAssertEqual(errors("    tls: { key: dsa }"), ["s.yaml:5:17: key: 'dsa' is not a key type; expected ec or rsa"])
        XCTAssertEqual(errors("    tls: { profile: weak_key, key: ec }"), [
            "s.yaml:5:36: key: 'ec' does not go with profile weak_key, whose leaf has an RSA-1024 key; leave the key out",
        ])
    }

    func testHostsAreNamesOrAddressesWithoutSpacesOrPorts() {
        XCTAssertEqual(errors("    tls: { host: my host }"), [
            "s.yaml:5:18: host: 'my host' is not a host name: it holds a space or a control character "
                + "(e.g. localhost, api.example.com or 127.0.0.1)",
        ])
        XCTAssertEqual(errors("    tls: { host: \"\" }"), ["s.yaml:5:18: host: expected a host name such as localhost, found an empty text"])
        XCTAssertEqual(errors("    tls: { host: [] }"), ["s.yaml:5:18: host: expected at least one name, such as localhost"])
        XCTAssertEqual(errors("    tls: { host: localhost:8443 }"), [
            "s.yaml:5:18: host: 'localhost:8443' is not a host name: leave the port out (localhost)",
        ])
        XCTAssertEqual(errors("    tls: { host: \"[::1]\" }"), [
            "s.yaml:5:18: host: '[::1]' is not a host name: write the IPv6 address without brackets (::1)",
        ])
        XCTAssertEqual(errors("    tls: { host: bad/name }"), [
            "s.yaml:5:18: host: 'bad/name' is neither an IP address nor a host name (letters, digits, '-' and '_' "
                + "in dot-separated labels of 1 to 63 characters, optionally '*.' first)",
        ])
        XCTAssertEqual(errors("    tls: { host: { name: localhost } }"), [
            "s.yaml:5:18: host: expected a host name or a list of names such as [localhost, 127.0.0.1], found a mapping",
        ])
        XCTAssertEqual(errors("    tls:\n      host:\n        - localhost\n        - \"bad host\"\n        - [x]"), [
            "s.yaml:8:11: host: 'bad host' is not a host name: it holds a space or a control character "
                + "(e.g. localhost, api.example.com or 127.0.0.1)",
            "s.yaml:9:11: host: expected a host name such as localhost, found a list",
        ])
        let long = String(repeating: "a", count: 40) + "." + String(repeating: "b", count: 30)
        XCTAssertEqual(errors("    tls: { host: [\(long), localhost] }"), [
            "s.yaml:5:19: host: '\(long)' cannot come first: the first name is the certificate subject's CN, which X.509 "
                + "limits to 64 characters; put a shorter name first",
        ])
    }

    /// A file with several mistakes gets all of them, TLS ones among the others.
    func testTLSMistakesComeWithTheOthers() {
        let keys = "    tls: { profile: expird, key: dsa }\n    upstream_tls: { verify: maybe }\n    colour: red"
        XCTAssertEqual(errors(keys), [
            "s.yaml:5:21: profile: 'expird' is not a certificate profile (did you mean 'expired'?); expected \(Self.profiles)",
            "s.yaml:5:34: key: 'dsa' is not a key type; expected ec or rsa",
            "s.yaml:6:29: verify: expected true or false, found 'maybe'",
            "s.yaml:7:5: unknown key 'colour' in proxy 'p'; expected listen, upstream, protocol, tls or upstream_tls",
        ])
    }

    // MARK: upstream_tls

    func testUpstreamTLSVerifyAndInsecure() throws {
        XCTAssertEqual(try proxy("    upstream_tls: { verify: false }").upstreamTLS, UpstreamTLS(verify: false))
        XCTAssertEqual(try proxy("    upstream_tls: { verify: true }").upstreamTLS, UpstreamTLS(verify: true))
        let insecure = try XCTUnwrap(try proxy("    upstream_tls: { insecure: true }").upstreamTLS)
        XCTAssertTrue(insecure.insecure)
        XCTAssertFalse(insecure.verify, "insecure implies no verification")
        XCTAssertEqual(try proxy("    upstream_tls: { verify: false, insecure: true }").upstreamTLS, UpstreamTLS(verify: false, insecure: true))
        XCTAssertEqual(try proxy("    upstream_tls: { verify: True, insecure: FALSE }").upstreamTLS, UpstreamTLS(verify: true))
        XCTAssertEqual(try proxy("    upstream_tls: { sni: redis.internal }").upstreamTLS, UpstreamTLS(sni: "redis.internal"))
    }

    func testVerifyTrueBesideInsecureTrueIsAContradiction() {
        XCTAssertEqual(errors("    upstream_tls: { verify: true, insecure: true }"), [
            "s.yaml:5:45: insecure: true checks nothing, so it contradicts verify: true (at 5:29); keep one of them",
        ])
        XCTAssertEqual(errors("    upstream_tls:\n      insecure: true\n      verify: true"), [
            "s.yaml:6:17: insecure: true checks nothing, so it contradicts verify: true (at 7:15); keep one of them",
        ])
    }

    func testUpstreamTLSMistakes() {
        let expected = "upstream_tls: expected a mapping such as { verify: true, ca: ./ca.pem } ({} to verify against the system's roots)"
        XCTAssertEqual(errors("    upstream_tls: true"), ["s.yaml:5:19: \(expected), found 'true'"])
        XCTAssertEqual(errors("    upstream_tls: { verfy: true }"), [
            "s.yaml:5:21: unknown key 'verfy' in upstream_tls of proxy 'p' (did you mean 'verify'?)",
        ])
        XCTAssertEqual(errors("    upstream_tls: { verify: yes }"), ["s.yaml:5:29: verify: expected true or false, found 'yes'"])
        XCTAssertEqual(errors("    upstream_tls: { insecure: [] }"), ["s.yaml:5:31: insecure: expected true or false, found a list"])
        XCTAssertEqual(errors("    upstream_tls: { sni: 127.0.0.1 }"), [
            "s.yaml:5:26: sni: '127.0.0.1' is an IP address, which SNI cannot carry: leave it out and the upstream's address is checked",
        ])
        XCTAssertEqual(errors("    upstream_tls: { sni: \"*.example.com\" }"), [
            "s.yaml:5:26: sni: '*.example.com' is a wildcard, but SNI names one server: give its full name",
        ])
        XCTAssertEqual(errors("    upstream_tls: { sni: redis.internal:6380 }"), [
            "s.yaml:5:26: sni: 'redis.internal:6380' is not a host name: leave the port out (redis.internal)",
        ])
        XCTAssertEqual(errors("    upstream_tls: { ca: \"\" }"), ["s.yaml:5:25: ca: expected a PEM file such as ./ca.pem, found an empty text"])
    }

    /// `ca:` is relative to the scenario file's folder, not to where faultline runs.
    func testCAIsRelativeToTheScenarioFile() throws {
        let folder = try folderWithCAFiles()
        let file = folder + "/scenario/s.yaml"
        for (written, resolved) in [("./ca.pem", "/scenario/ca.pem"), ("ca.pem", "/scenario/ca.pem"),
                                    ("certs/ca.pem", "/scenario/certs/ca.pem"), ("../scenario/ca.pem", "/scenario/../scenario/ca.pem")] {
            try yaml("    upstream_tls: { verify: true, ca: \(written) }").write(toFile: file, atomically: true, encoding: .utf8)
            let loaded = try ScenarioLoader.load(path: file)
            XCTAssertEqual(loaded.proxies.first?.upstreamTLS, UpstreamTLS(verify: true, caFile: folder + resolved), written)
        }
        let absolute = folder + "/scenario/certs/ca.pem"
        XCTAssertEqual(try proxy("    upstream_tls: { ca: \(absolute) }", file: "elsewhere/s.yaml").upstreamTLS,
                       UpstreamTLS(caFile: absolute))
        XCTAssertEqual(TLSText.path("./ca.pem", relativeTo: "s.yaml"), "ca.pem", "a file in the working directory")
        XCTAssertEqual(TLSText.path(".//ca.pem", relativeTo: "scenarios/s.yaml"), "scenarios/ca.pem")
    }

    /// The CA file is read when the scenario is loaded (by `check` too), not when the run starts.
    func testAMissingOrWrongCAFileIsAnErrorWithItsPath() throws {
        let folder = try folderWithCAFiles()
        let file = folder + "/scenario/s.yaml"
        XCTAssertEqual(errors("    upstream_tls: { ca: ./nope.pem }", file: file), [
            "\(file):5:25: ca: cannot read \(folder)/scenario/nope.pem: No such file or directory",
        ])
        XCTAssertEqual(errors("    upstream_tls: { ca: certs }", file: file), [
            "\(file):5:25: ca: \(folder)/scenario/certs is a directory, not a PEM file of certificates",
        ])
        XCTAssertEqual(errors("    upstream_tls: { ca: key.txt }", file: file), [
            "\(file):5:25: ca: \(folder)/scenario/key.txt holds no PEM certificate (a line -----BEGIN CERTIFICATE-----)",
        ])
        XCTAssertEqual(errors("    upstream_tls: { ca: ./ca.pem }", file: "s.yaml"), [
            "s.yaml:5:25: ca: cannot read ca.pem: No such file or directory",
        ], "a file named without a folder is in the working directory")
    }

    /// TLS faults need a proxy with `tls:`; one whose `tls:` has a mistake is not reported twice.
    func testTLSFaultsNeedAProxyWithTLS() throws {
        guard let kind = FaultRegistry.kinds.first(where: { $0.name.hasPrefix("tls.") }) else {
            throw XCTSkip("no tls.* fault kind registered yet")
        }
        let phase = "30s\n    faults:\n      - \(kind.name): {}"
        let plain = yaml("    protocol: tcp").replacingOccurrences(of: "30s", with: phase)
        XCTAssertTrue(errorsOf(plain).contains("s.yaml:10:9: \(kind.name) needs a proxy with tls:; proxy 'p' has none"), "\(errorsOf(plain))")
        let broken = yaml("    tls: { profile: expird }").replacingOccurrences(of: "30s", with: phase)
        XCTAssertFalse(errorsOf(broken).contains { $0.contains("needs a proxy with tls:") }, "\(errorsOf(broken))")
    }

    private func errorsOf(_ text: String) -> [String] {
        do {
            _ = try ScenarioLoader.load(yaml: text, file: "s.yaml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }
}
