import Foundation
import Glibc
import XCTest

/// `faultline certs` for every certificate profile, served by a real `openssl s_server` and met
/// by three real verifying clients (openssl s_client, Python's ssl, curl): each profile must
/// fail verification with exactly the code and words the profile promises, and `valid` must
/// pass. The bundle is written in a fresh directory, so the CA is made there, never in the repo.
final class CertificateProfileTests: IntegrationCase {
    /// What a verifying client reports for one profile (OpenSSL 3.0, Python 3.11).
    private struct Expected {
        let profile: String
        /// X509_V_ERR_* as s_client prints it; 0 for a verified chain.
        let code: Int
        /// SSLCertVerificationError.verify_message; nil when the handshake succeeds.
        let python: String?
        /// Certificates the server sends: the leaf and `cert.pem`'s chain.
        let sent: Int
    }

    private static let profiles: [Expected] = [
        Expected(profile: "valid", code: 0, python: nil, sent: 2),
        Expected(profile: "incomplete_chain", code: 20, python: "unable to get local issuer certificate", sent: 1),
        Expected(profile: "expired", code: 10, python: "certificate has expired", sent: 2),
        Expected(profile: "not_yet_valid", code: 9, python: "certificate is not yet valid", sent: 2),
        Expected(profile: "wrong_host", code: 62, python: "Hostname mismatch, certificate is not valid for 'localhost'.", sent: 2),
        Expected(profile: "self_signed", code: 18, python: "self-signed certificate", sent: 1),
        Expected(profile: "untrusted_root", code: 19, python: "self-signed certificate in certificate chain", sent: 3),
        Expected(profile: "weak_signature", code: 68, python: "CA signature digest algorithm too weak", sent: 2),
        Expected(profile: "weak_key", code: 66, python: "EE certificate key too weak", sent: 2),
    ]

    /// Waits for a client or a one-shot command: a handshake on loopback takes milliseconds.
    private let clientTimeout = 5 * sanitizerSlowdown

    private var workDirectory = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        workDirectory = NSTemporaryDirectory() + "faultline-certs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: workDirectory)
        super.tearDown()
    }

    func testEveryProfileFailsVerificationAsItsSummarySays() throws {
        XCTAssertEqual(Set(Self.profiles.map(\.profile)), Set(CertificateProfileNames.all), "a profile without a test")
        for expected in Self.profiles {
            let bundle = try writeBundle(expected.profile)
            let server = try SSLServer.start(bundle: bundle, timeout: clientTimeout)
            defer { server.process.stop(grace: 1) }

            let (ended, output) = try sClient(port: server.port, bundle: bundle)
            XCTAssertTrue(output.contains("Verify return code: \(expected.code) ("), "\(expected.profile): s_client said\n\(output)")
            XCTAssertEqual(ended, .exited(expected.code == 0 ? 0 : 1), "\(expected.profile): \(output)")
            let sent = output.split(separator: "\n").filter { $0.range(of: #"^ *\d+ s:"#, options: .regularExpression) != nil }
            XCTAssertEqual(sent.count, expected.sent, "\(expected.profile): certificates sent\n\(output)")

            let python = try pythonClient(port: server.port, bundle: bundle)
            if let message = expected.python {
                XCTAssertEqual(python, "VERIFY \(expected.code) \(message)", expected.profile)
            } else {
                XCTAssertTrue(python.hasPrefix("OK TLSv1.3"), "\(expected.profile): \(python)")
            }
        }
    }

    /// curl trusts ca.pem for the complete chain and fails the one without its intermediate
    /// (exit 60: the peer's certificate cannot be authenticated).
    func testCurlTrustsTheValidChainAndRefusesTheIncompleteOne() throws {
        for (profile, status) in [("valid", Int32(0)), ("incomplete_chain", 60)] {
            let bundle = try writeBundle(profile)
            let server = try SSLServer.start(bundle: bundle, timeout: clientTimeout)
            defer { server.process.stop(grace: 1) }
            let (ended, _, stderr) = try runCommand(try tool("curl"), [
                "-sS", "-o", "/dev/null", "--max-time", "\(Int(clientTimeout))", "--cacert", "\(bundle)/ca.pem",
                "--resolve", "localhost:\(server.port):127.0.0.1", "https://localhost:\(server.port)/",
            ], timeout: clientTimeout + 1)
            XCTAssertEqual(ended, .exited(status), "\(profile): \(stderr)")
        }
    }

    /// `--key rsa` gives an RSA 2048 leaf, the default an EC P-256 one, weak_key RSA 1024; IP
    /// literals become IP SANs and names DNS SANs, in the order given.
    func testKeyTypesAndSubjectAltNames() throws {
        let cases: [(profile: String, arguments: [String], key: [String])] = [
            ("valid", [], ["Public Key Algorithm: id-ecPublicKey", "NIST CURVE: P-256"]),
            ("valid", ["--key", "rsa"], ["Public Key Algorithm: rsaEncryption", "Public-Key: (2048 bit)"]),
            ("weak_key", [], ["Public Key Algorithm: rsaEncryption", "Public-Key: (1024 bit)"]),
        ]
        for (index, (profile, arguments, key)) in cases.enumerated() {
            let bundle = try writeBundle(profile, ["--host", "localhost", "--host", "127.0.0.1", "--host", "::1"] + arguments,
                                         name: "keys\(index)")
            let (ended, text, stderr) = try runCommand(try tool("openssl"), ["x509", "-in", "\(bundle)/cert.pem", "-noout", "-text"],
                                                       timeout: clientTimeout)
            XCTAssertEqual(ended, .exited(0), stderr)
            for line in key { XCTAssertTrue(text.contains(line), "\(profile) \(arguments): no '\(line)' in\n\(text)") }
            XCTAssertTrue(text.contains("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"), text)
            XCTAssertTrue(text.contains("Subject: O = faultline, CN = localhost"), text)
        }
    }

    /// Several `faultline certs` started at once in one directory make one CA between them:
    /// every bundle's ca.pem is the same root, and no half-made cache is left behind.
    func testConcurrentCommandsShareOneCA() throws {
        let children = try (0..<6).map { index in
            try spawnFaultline(["certs", "--profile", "valid", "--out", "race\(index)"], in: workDirectory)
        }
        for child in children {
            XCTAssertEqual(child.waitForExit(timeout: 10 * sanitizerSlowdown), .exited(0), child.stderrText)
        }
        let roots = try Set((0..<6).map { try String(contentsOfFile: "\(workDirectory)/race\($0)/ca.pem", encoding: .utf8) })
        XCTAssertEqual(roots.count, 1, "bundles trust different roots")
        let root = try String(contentsOfFile: "\(workDirectory)/.faultline/ca/root.pem", encoding: .utf8)
        XCTAssertEqual(roots.first, root)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(workDirectory)/.faultline"), ["ca"])
    }

    /// Bad flags exit 2 naming the flag, before any CA is made.
    func testBadFlagsAreRefusedNamingTheFlag() throws {
        let refusals: [([String], String)] = [
            (["--profile", "expird", "--out", "x"], "--profile: 'expird' is not a certificate profile (did you mean 'expired'?); expected "
                + CertificateProfileNames.all.dropLast().joined(separator: ", ") + " or weak_key"),
            (["--out", "x"], "--profile: missing; give it once, e.g. --profile expired"),
            (["--profile", "valid"], "--out: missing; give it once, e.g. --out /tmp/expired"),
            (["--profile", "valid", "--key", "dsa", "--out", "x"], "--key: 'dsa' is not a key type; expected ec or rsa"),
            (["--profile", "valid", "--host", "bad!name", "--out", "x"], "--host: 'bad!name' "),
        ]
        for (arguments, message) in refusals {
            let (ended, _, stderr) = try runInWorkDirectory(["certs"] + arguments)
            XCTAssertEqual(ended, .exited(2), "\(arguments): \(stderr)")
            XCTAssertTrue(stderr.hasPrefix("faultline: \(message)"), "\(arguments): \(stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(workDirectory)/.faultline"), "a refused command made a CA")
    }

    /// A damaged CA cache: exit 2, as proxy and run, naming the file and the way out.
    func testDamagedCacheExitsTwoNamingTheFile() throws {
        _ = try writeBundle("valid")
        let rootKey = "\(workDirectory)/.faultline/ca/root.key"
        try "garbage\n".write(toFile: rootKey, atomically: true, encoding: .utf8)
        let (ended, _, stderr) = try runInWorkDirectory(["certs", "--profile", "valid", "--out", "again"])
        XCTAssertEqual(ended, .exited(2), stderr)
        XCTAssertTrue(stderr.hasPrefix("faultline: reading the CA cache file .faultline/ca/root.key: not a PEM private key"), stderr)
        XCTAssertTrue(stderr.contains("delete the directory .faultline/ca and faultline makes a new CA"), stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(workDirectory)/again"), "a bundle was written without a CA")
    }

    // MARK: - Helpers

    /// Runs `faultline certs --profile PROFILE … --out NAME` in the work directory; returns the
    /// bundle's directory.
    private func writeBundle(_ profile: String, _ extra: [String] = [], name: String? = nil) throws -> String {
        let out = name ?? profile
        let (ended, stdout, stderr) = try runInWorkDirectory(["certs", "--profile", profile] + extra + ["--out", out])
        XCTAssertEqual(ended, .exited(0), "certs \(profile): \(stderr)")
        XCTAssertTrue(stdout.contains("wrote \(out)/cert.pem"), stdout)
        return "\(workDirectory)/\(out)"
    }

    /// `faultline ARGUMENTS` with the work directory as its current directory (where it keeps its CA).
    private func runInWorkDirectory(_ arguments: [String]) throws -> (Termination?, stdout: String, stderr: String) {
        try runFaultline(arguments, in: workDirectory, timeout: 10 * sanitizerSlowdown)
    }

    /// s_client verifying as a strict client does: against ca.pem only, checking the name,
    /// and aborting the handshake on the first error. Returns stdout and stderr together.
    private func sClient(port: UInt16, bundle: String) throws -> (Termination?, String) {
        let (ended, stdout, stderr) = try runCommand(try tool("openssl"), [
            "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", "-verify_hostname", "localhost",
            "-CAfile", "\(bundle)/ca.pem", "-verify_return_error", "-showcerts",
        ], timeout: clientTimeout)
        return (ended, stdout + stderr)
    }

    /// Python's default context trusting ca.pem only: `OK <version>`, or `VERIFY <code> <message>`.
    private func pythonClient(port: UInt16, bundle: String) throws -> String {
        let script = """
            import socket, ssl, sys
            context = ssl.create_default_context(cafile=sys.argv[2])
            try:
                with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=\(clientTimeout)) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost") as tls:
                        print("OK", tls.version())
            except ssl.SSLCertVerificationError as error:
                print("VERIFY", error.verify_code, error.verify_message)
            """
        let (ended, stdout, stderr) = try runCommand(try tool("python3"), ["-c", script, "\(port)", "\(bundle)/ca.pem"],
                                                     timeout: clientTimeout + 1)
        XCTAssertEqual(ended, .exited(0), stderr)
        return stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

}

/// `name` on PATH, else in /usr/bin or /bin.
private func tool(_ name: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
    guard let found = (path + ["/usr/bin", "/bin"]).map({ "\($0)/\(name)" }).first(where: FileManager.default.isExecutableFile) else {
        throw MissingTool(name: name)
    }
    return found
}

/// The profile names as `faultline certs` takes them (the tests talk to the binary, not the library).
private enum CertificateProfileNames {
    static let all = ["valid", "incomplete_chain", "expired", "not_yet_valid", "wrong_host", "self_signed",
                      "untrusted_root", "weak_signature", "weak_key"]
}

/// A failure, not a skip: without the peer there is nothing to check the certificates against.
private struct MissingTool: Error, CustomStringConvertible {
    let name: String
    var description: String { "\(name) is not installed; these tests need real openssl, python3 and curl clients" }
}

/// `openssl s_server -www` presenting a bundle, on a port the kernel picked.
private struct SSLServer {
    let process: ChildProcess
    let port: UInt16

    /// s_server reads only the first certificate of `-cert`, so the chain goes to
    /// `-cert_chain` in a file of its own (cert.pem there would send the leaf twice).
    /// `@SECLEVEL=0`: a server that cannot load the defect cannot show it to the client, and
    /// at Debian's default level 2 s_server refuses a SHA-1-signed leaf ("ca md too weak") and
    /// an RSA-1024 one ("ee key too small"); level 1 loads RSA-1024 but still not SHA-1.
    static func start(bundle: String, timeout: Double) throws -> SSLServer {
        let blocks = try String(contentsOfFile: "\(bundle)/cert.pem", encoding: .utf8)
            .components(separatedBy: "-----END CERTIFICATE-----\n").filter { $0.contains("BEGIN CERTIFICATE") }
            .map { $0 + "-----END CERTIFICATE-----\n" }
        guard let leaf = blocks.first else { throw ServerStartFailure(output: "no certificate in \(bundle)/cert.pem") }
        try leaf.write(toFile: "\(bundle)/leaf.pem", atomically: true, encoding: .utf8)
        var arguments = ["s_server", "-accept", "127.0.0.1:0", "-cert", "\(bundle)/leaf.pem", "-key", "\(bundle)/key.pem",
                         "-cipher", "DEFAULT:@SECLEVEL=0", "-www"]
        if blocks.count > 1 {
            try blocks.dropFirst().joined().write(toFile: "\(bundle)/chain.pem", atomically: true, encoding: .utf8)
            arguments += ["-cert_chain", "\(bundle)/chain.pem"]
        }
        let process = try ChildProcess.spawn(try tool("openssl"), arguments)
        // -accept with port 0 prints `ACCEPT 127.0.0.1:PORT` once it listens: no guessed port to race for.
        var port: UInt16?
        _ = waitUntil(timeout: timeout) {
            port = process.stdoutText.split(separator: "\n").first { $0.hasPrefix("ACCEPT ") }
                .flatMap { $0.split(separator: ":").last }.flatMap { UInt16($0) }
            return port != nil || !process.isRunning
        }
        guard let port else {
            process.stop(grace: 1)
            throw ServerStartFailure(output: process.stdoutText + process.stderrText)
        }
        return SSLServer(process: process, port: port)
    }
}

private struct ServerStartFailure: Error, CustomStringConvertible {
    let output: String
    var description: String { "openssl s_server did not start:\n\(output)" }
}
