import Foundation
import XCTest

@testable import Faultline

/// The CA cache: made once with private modes, reused by later opens (and by racing ones),
/// trusted alone in ca.pem, and refused with the file's name when it is damaged. Every test
/// works in a fresh temporary directory, never in the repository.
final class CertificateAuthorityTests: XCTestCase {
    private var directory = ""
    private var cache: String { "\(directory)/.faultline/ca" }

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "faultline-ca-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Under a umask of 077 too: the certificates must still be readable by others (0644), so
    /// the modes cannot be left to open(2)'s mode and the umask.
    func testCacheIsMadeOnceWithPrivateModes() throws {
        let previous = umask(0o077)
        defer { umask(previous) }
        let authority = try CertificateAuthority.openOrCreate(directory: cache)
        XCTAssertTrue(authority.created)
        XCTAssertEqual(try mode(cache), 0o700)
        XCTAssertEqual(try mode("\(cache)/root.key"), 0o600)
        XCTAssertEqual(try mode("\(cache)/intermediate.key"), 0o600)
        XCTAssertEqual(try mode("\(cache)/root.pem"), 0o644)
        XCTAssertEqual(try mode("\(cache)/intermediate.pem"), 0o644)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache).sorted(),
                       ["intermediate.key", "intermediate.pem", "root.key", "root.pem"])
        XCTAssertEqual(try String(contentsOfFile: "\(cache)/root.pem", encoding: .utf8), authority.rootPEM)
        XCTAssertEqual(authority.root.commonName, "faultline root CA")
        XCTAssertEqual(authority.intermediate.commonName, "faultline intermediate CA")
    }

    func testSecondOpenReusesTheSameRoot() throws {
        let first = try CertificateAuthority.openOrCreate(directory: cache)
        let before = try cacheContents()
        let second = try CertificateAuthority.openOrCreate(directory: cache)
        XCTAssertFalse(second.created)
        XCTAssertEqual(second.rootPEM, first.rootPEM)
        XCTAssertEqual(try second.intermediate.pemText(), try first.intermediate.pemText())
        XCTAssertEqual(try cacheContents(), before, "opening the cache rewrote it")
    }

    /// Threads racing to make the cache end with one CA: exactly one made it, every other read
    /// the winner's, and no staging directory is left next to it.
    func testRacingOpensShareOneCA() throws {
        let results = RaceResults()
        DispatchQueue.concurrentPerform(iterations: 8) { [cache] _ in
            results.add(Result { () throws(CertificateError) in try CertificateAuthority.openOrCreate(directory: cache) })
        }
        let authorities = try results.all.map { try $0.get() }
        XCTAssertEqual(authorities.count, 8)
        XCTAssertEqual(authorities.filter(\.created).count, 1, "more than one open made a CA")
        XCTAssertEqual(Set(authorities.map(\.rootPEM)).count, 1, "racing opens returned different roots")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/.faultline"), ["ca"])
    }

    /// ca.pem holds one certificate, the root, for every profile: the self-signed leaf and the
    /// untrusted root must stay untrusted, and they never reach the cache either.
    func testBundleTrustsTheRootOnly() throws {
        let authority = try CertificateAuthority.openOrCreate(directory: cache)
        let cached = try cacheContents()
        for profile in CertificateProfile.allCases {
            let out = "\(directory)/\(profile.rawValue)"
            try authority.writeBundle(for: ServerTLS(profile: profile), to: out)
            let trusted = try String(contentsOfFile: "\(out)/ca.pem", encoding: .utf8)
            XCTAssertEqual(certificates(in: trusted), [authority.rootPEM], profile.rawValue)
            let presented = certificates(in: try String(contentsOfFile: "\(out)/cert.pem", encoding: .utf8))
            XCTAssertFalse(presented.isEmpty, profile.rawValue)
            if profile == .selfSigned || profile == .untrustedRoot {
                for certificate in presented { XCTAssertFalse(trusted.contains(certificate), "\(profile.rawValue) material in ca.pem") }
            }
            XCTAssertEqual(try mode("\(out)/key.pem"), 0o600, profile.rawValue)
        }
        XCTAssertEqual(try cacheContents(), cached, "a profile changed the cache")
    }

    /// What each profile presents, in the order a server sends it.
    func testProfilesPresentTheirChains() throws {
        let authority = try CertificateAuthority.openOrCreate(directory: cache)
        let intermediate = try authority.intermediate.pemText()
        func chain(_ profile: CertificateProfile) throws -> [String] {
            try authority.identity(for: ServerTLS(profile: profile)).chain.map { try $0.pemText() }
        }
        for profile in [CertificateProfile.valid, .expired, .notYetValid, .wrongHost, .weakSignature, .weakKey] {
            XCTAssertEqual(try chain(profile), [intermediate], profile.rawValue)
        }
        XCTAssertEqual(try chain(.incompleteChain), [])
        XCTAssertEqual(try chain(.selfSigned), [])
        let untrusted = try authority.identity(for: ServerTLS(profile: .untrustedRoot))
        XCTAssertEqual(untrusted.presentedNames, ["localhost", "faultline untrusted intermediate CA", "faultline untrusted root CA"])
        XCTAssertEqual(try authority.identity(for: ServerTLS(profile: .wrongHost)).presentedNames.first, "wrong-host.invalid")
        XCTAssertEqual(try authority.identity(for: ServerTLS(profile: .weakKey, key: .ec)).keyDescription, "RSA 1024")
        XCTAssertEqual(try authority.identity(for: ServerTLS(key: .rsa)).keyDescription, "RSA 2048")
        XCTAssertEqual(try authority.identity(for: ServerTLS()).keyDescription, "EC P-256")
        let identity = try authority.identity(for: ServerTLS(hosts: ["api.test", "127.0.0.1"]))
        XCTAssertEqual(identity.presentedNames.first, "api.test")
        XCTAssertEqual(certificates(in: identity.chainPEM).count, 2)
        XCTAssertTrue(identity.keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    func testHostsMustBeNamesOrAddresses() throws {
        let authority = try CertificateAuthority.openOrCreate(directory: cache)
        let refusals: [([String], String)] = [
            ([], "expected at least one name, such as localhost"),
            (["bad name"], "'bad name' is not a host name: it holds a space or a control character"),
            (["localhost", "a..b"], "'a..b' is neither an IP address nor a host name"),
            (["[::1]"], "'[::1]' is not a host name: write the IPv6 address without brackets (::1)"),
            ([String(repeating: "abcd.", count: 13) + "a"], "cannot come first: the first name is the certificate subject's CN"),
        ]
        for (hosts, reason) in refusals {
            XCTAssertThrowsError(try authority.identity(for: ServerTLS(hosts: hosts)), "\(hosts)") { error in
                XCTAssertTrue("\(error)".contains(reason), "\(hosts): \(error)")
            }
        }
        XCTAssertEqual(try CertificateHosts.entries(["localhost", "127.0.0.1", "::1", "*.example.test"]),
                       [.dns("localhost"), .ip([127, 0, 0, 1]), .ip([UInt8](repeating: 0, count: 15) + [1]), .dns("*.example.test")])
    }

    func testDamagedCacheNamesTheFileAndSaysToDeleteTheDirectory() throws {
        _ = try CertificateAuthority.openOrCreate(directory: cache)
        let original = try cacheContents()
        let damages: [(file: String, damage: () throws -> Void, reason: String)] = [
            ("intermediate.pem", { try "not a certificate\n".write(toFile: "\(self.cache)/intermediate.pem", atomically: true, encoding: .utf8) },
             "not a PEM certificate"),
            ("root.key", { try FileManager.default.removeItem(atPath: "\(self.cache)/root.key") }, "No such file or directory"),
            ("root.key", { try original["intermediate.key"]?.write(toFile: "\(self.cache)/root.key", atomically: true, encoding: .utf8) },
             "not the key of \(cache)/root.pem"),
        ]
        for (file, damage, reason) in damages {
            try restore(original)
            try damage()
            XCTAssertThrowsError(try CertificateAuthority.openOrCreate(directory: cache), file) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("reading the CA cache file \(cache)/\(file): "), text)
                XCTAssertTrue(text.contains(reason), text)
                XCTAssertTrue(text.contains("delete the directory \(cache)"), text)
            }
        }
    }

    // MARK: - Helpers

    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return ((attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1) & 0o777
    }

    /// Every cache file's text by name.
    private func cacheContents() throws -> [String: String] {
        var contents: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: cache) {
            contents[name] = try String(contentsOfFile: "\(cache)/\(name)", encoding: .utf8)
        }
        return contents
    }

    private func restore(_ contents: [String: String]) throws {
        for (name, text) in contents { try text.write(toFile: "\(cache)/\(name)", atomically: true, encoding: .utf8) }
    }

    /// The PEM certificate blocks of `text`, each with its END line and newline.
    private func certificates(in text: String) -> [String] {
        let end = "-----END CERTIFICATE-----\n"
        return text.components(separatedBy: end).filter { $0.contains("-----BEGIN CERTIFICATE-----") }.map { $0 + end }
    }
}

/// Results collected from concurrent threads.
private final class RaceResults: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var results: [Result<CertificateAuthority, CertificateError>] = []

    func add(_ result: Result<CertificateAuthority, CertificateError>) {
        lock.withLock { results.append(result) }
    }

    var all: [Result<CertificateAuthority, CertificateError>] { lock.withLock { results } }
}
