import Foundation
import Glibc
import XCTest

/// Every certificate profile through `faultline proxy --tls-profile P`, met by the clients users
/// run: Python's ssl module, `openssl s_client` and curl, verifying against faultline's root
/// (each must fail exactly as the profile promises) and not verifying (each must complete and
/// get the upstream's answer). The upstream is a small HTTP server, so curl gets a real reply.
final class TLSProfileTests: TLSIntegrationCase {
    /// What a verifying client reports for one failing profile.
    struct Rejection {
        /// OpenSSL's verify code.
        let code: Int
        /// Python's `verify_message` (OpenSSL's X509 text, except for the host check).
        let python: String
        /// `openssl s_client`'s "Verify return code: N (TEXT)".
        let sClient: String
        /// curl's line for exit 60.
        let curl: String
        /// The alert OpenSSL's client sends, as the proxy's debug log names it.
        let alert: String
        /// curl checks the name itself once the handshake completed, then hangs up without
        /// an alert: for a host mismatch the proxy sees three good handshakes, not two.
        var curlCompletesHandshake = false
    }

    private static let body = "faultline TLS profile test upstream\n"

    func testValid() throws {
        let (proxy, http) = try start("valid")
        defer { http.stop() }
        let root = workspace.root

        let verified = try pythonConnection(port: proxy.port, ["--cafile", root, "--http", "/"])
        XCTAssertTrue(verified.completed, "\(verified)")
        XCTAssertEqual(verified.fields["version"] as? String, "TLSv1.3")
        XCTAssertTrue(verified.received?.hasPrefix("HTTP/1.1 200 OK\r\n") ?? false, "\(verified)")
        XCTAssertTrue(verified.received?.hasSuffix("\r\n\r\n" + Self.body) ?? false, "\(verified)")

        let sClient = try sClient(port: proxy.port, root: root)
        XCTAssertEqual(sClient.ended, .exited(0), sClient.output)
        XCTAssertTrue(sClient.output.contains("Verify return code: 0 (ok)"), sClient.output)
        XCTAssertTrue(sClient.output.contains("Verification: OK"), sClient.output)

        let curl = try curl(port: proxy.port, ["--cacert", root])
        XCTAssertEqual(curl.ended, .exited(0), curl.stderr)
        XCTAssertEqual(curl.stdout, Self.body)

        try assertInsecureClientsComplete(proxy)
        // Five handshakes completed, and every client but s_client (stdin /dev/null: no
        // request) reached the upstream with its request.
        XCTAssertTrue(waitForLog(proxy, "TLS handshake done: TLSv1.3 TLS_AES_256_GCM_SHA384, profile valid", count: 5),
                      proxy.process.stderrText)
        XCTAssertEqual(messages(proxy).filter { $0.contains("TLS handshake failed") }, [])
        XCTAssertEqual(http.served.current, 4)
    }

    func testIncompleteChain() throws {
        try assertRejected("incomplete_chain", Rejection(
            code: 20, python: "unable to get local issuer certificate", sClient: "unable to get local issuer certificate",
            curl: "curl: (60) SSL certificate problem: unable to get local issuer certificate", alert: "unknown_ca"))
    }

    func testExpired() throws {
        try assertRejected("expired", Rejection(
            code: 10, python: "certificate has expired", sClient: "certificate has expired",
            curl: "curl: (60) SSL certificate problem: certificate has expired", alert: "certificate_expired"))
    }

    func testNotYetValid() throws {
        try assertRejected("not_yet_valid", Rejection(
            code: 9, python: "certificate is not yet valid", sClient: "certificate is not yet valid",
            curl: "curl: (60) SSL certificate problem: certificate is not yet valid", alert: "bad_certificate"))
    }

    func testWrongHost() throws {
        try assertRejected("wrong_host", Rejection(
            code: 62, python: "Hostname mismatch, certificate is not valid for 'localhost'.", sClient: "hostname mismatch",
            curl: "curl: (60) SSL: no alternative certificate subject name matches target host name 'localhost'",
            alert: "bad_certificate", curlCompletesHandshake: true))
    }

    func testSelfSigned() throws {
        try assertRejected("self_signed", Rejection(
            code: 18, python: "self-signed certificate", sClient: "self-signed certificate",
            curl: "curl: (60) SSL certificate problem: self-signed certificate", alert: "unknown_ca"))
    }

    func testUntrustedRoot() throws {
        try assertRejected("untrusted_root", Rejection(
            code: 19, python: "self-signed certificate in certificate chain", sClient: "self-signed certificate in certificate chain",
            curl: "curl: (60) SSL certificate problem: self-signed certificate in certificate chain", alert: "unknown_ca"))
    }

    func testWeakSignature() throws {
        try assertRejected("weak_signature", Rejection(
            code: 68, python: "CA signature digest algorithm too weak", sClient: "CA signature digest algorithm too weak",
            curl: "curl: (60) SSL certificate problem: CA signature digest algorithm too weak", alert: "bad_certificate"))
    }

    func testWeakKey() throws {
        try assertRejected("weak_key", Rejection(
            code: 66, python: "EE certificate key too weak", sClient: "EE certificate key too weak",
            curl: "curl: (60) SSL certificate problem: EE certificate key too weak", alert: "bad_certificate"))
    }

    /// `--tls-host` names what the leaf is for: a client asking for that name verifies, one
    /// asking for localhost meets a name mismatch; `--tls-key rsa` serves an RSA-2048 leaf.
    func testHostAndKeyOptions() throws {
        let http = try HTTPResponder(body: Self.body)
        defer { http.stop() }
        let proxy = try workspace.startProxy(upstream: http.address, ["--tls-profile", "valid", "--tls-host", "api.example.test",
                                                                     "--tls-key", "rsa", "--log-level", "debug"])
        let named = try pythonConnection(port: proxy.port, ["--cafile", workspace.root, "--server-hostname", "api.example.test",
                                                            "--http", "/"])
        XCTAssertTrue(named.completed, "\(named)")
        XCTAssertTrue(named.received?.hasSuffix(Self.body) ?? false, "\(named)")
        let localhost = try pythonConnection(port: proxy.port, ["--cafile", workspace.root, "--http", "/"])
        XCTAssertEqual(localhost.verifyCode, 62, "\(localhost)")
        XCTAssertEqual(localhost.verifyMessage, "Hostname mismatch, certificate is not valid for 'localhost'.")
        let sClient = try sClient(port: proxy.port, root: workspace.root, ["-servername", "api.example.test",
                                                                          "-verify_hostname", "api.example.test"])
        XCTAssertEqual(sClient.ended, .exited(0), sClient.output)
        XCTAssertTrue(sClient.output.contains("Server public key is 2048 bit"), sClient.output)
        XCTAssertTrue(sClient.output.contains("subject=O = faultline, CN = api.example.test"), sClient.output)
    }

    // MARK: -

    /// An HTTP upstream and a debug-logging proxy presenting `profile` in front of it.
    private func start(_ profile: String) throws -> (ProxyProcess, HTTPResponder) {
        let http = try HTTPResponder(body: Self.body)
        do {
            let proxy = try workspace.startProxy(upstream: http.address, ["--tls-profile", profile, "--log-level", "debug"])
            return (proxy, http)
        } catch {
            http.stop()
            throw error
        }
    }

    /// Python, s_client and curl, verifying, all fail with the profile's words and code (and
    /// never reach the upstream); the insecure clients complete; the log names each alert.
    private func assertRejected(_ profile: String, _ expected: Rejection, file: StaticString = #filePath, line: UInt = #line) throws {
        let (proxy, http) = try start(profile)
        defer { http.stop() }
        let root = workspace.root

        let python = try pythonConnection(port: proxy.port, ["--cafile", root, "--http", "/"], file: file, line: line)
        XCTAssertEqual(python.stage, "handshake", "\(profile): \(python)", file: file, line: line)
        XCTAssertEqual(python.error, "SSLCertVerificationError", "\(profile): \(python)", file: file, line: line)
        XCTAssertEqual(python.verifyCode, expected.code, "\(profile): \(python)", file: file, line: line)
        XCTAssertEqual(python.verifyMessage, expected.python, "\(profile): \(python)", file: file, line: line)
        // "(_ssl.c:1006)" ends it: a line number of Python's build, not ours to assert.
        let prefix = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: \(expected.python) (_ssl.c:"
        XCTAssertTrue(python.message?.hasPrefix(prefix) ?? false, "\(profile): \(python)", file: file, line: line)

        let sClient = try sClient(port: proxy.port, root: root)
        XCTAssertEqual(sClient.ended, .exited(1), "\(profile): \(sClient.output)", file: file, line: line)
        XCTAssertTrue(sClient.output.contains("Verify return code: \(expected.code) (\(expected.sClient))"),
                      "\(profile): \(sClient.output)", file: file, line: line)
        XCTAssertTrue(sClient.output.contains("verify error:num=\(expected.code):\(expected.sClient)"),
                      "\(profile): \(sClient.output)", file: file, line: line)

        let curl = try curl(port: proxy.port, ["--cacert", root])
        XCTAssertEqual(curl.ended, .exited(60), "\(profile): \(curl.stderr)", file: file, line: line)
        XCTAssertEqual(curl.stderr.split(separator: "\n").first.map(String.init), expected.curl,
                       "\(profile): \(curl.stderr)", file: file, line: line)
        XCTAssertEqual(curl.stdout, "", file: file, line: line)
        // A client that refused the certificate never reaches the upstream.
        XCTAssertEqual(http.served.current, 0, "\(profile): a rejecting client's request reached the upstream", file: file, line: line)

        try assertInsecureClientsComplete(proxy, file: file, line: line)
        XCTAssertEqual(http.served.current, 2, "\(profile): the two insecure clients' requests", file: file, line: line)

        // Python, s_client and (unless it checks the name after the handshake) curl refused it.
        let refusals = expected.curlCompletesHandshake ? 2 : 3
        let failed = "TLS handshake failed (profile \(profile)): the client sent alert \(expected.alert)"
        let done = "TLS handshake done: TLSv1.3 TLS_AES_256_GCM_SHA384, profile \(profile)"
        XCTAssertTrue(waitForLog(proxy, failed, count: refusals), "\(profile): expected \(refusals) × \"\(failed)\" in:\n\(proxy.process.stderrText)",
                      file: file, line: line)
        XCTAssertTrue(waitForLog(proxy, done, count: 5 - refusals), "\(profile): \(proxy.process.stderrText)", file: file, line: line)
        XCTAssertEqual(messages(proxy).filter { $0.contains("TLS handshake failed") }.count, refusals,
                       "\(profile): \(proxy.process.stderrText)", file: file, line: line)
        XCTAssertEqual(messages(proxy).filter { $0.contains("TLS handshake done") }.count, 5 - refusals,
                       "\(profile): \(proxy.process.stderrText)", file: file, line: line)
        XCTAssertTrue(proxy.process.isRunning, file: file, line: line)
    }

    /// Python with CERT_NONE and no host check, and curl -k, complete the handshake whatever
    /// the profile and get the upstream's reply.
    private func assertInsecureClientsComplete(_ proxy: ProxyProcess, file: StaticString = #filePath, line: UInt = #line) throws {
        let python = try pythonConnection(port: proxy.port, ["--insecure", "--http", "/"], file: file, line: line)
        XCTAssertTrue(python.completed, "insecure Python: \(python)", file: file, line: line)
        XCTAssertTrue(python.received?.hasPrefix("HTTP/1.1 200 OK\r\n") ?? false, "\(python)", file: file, line: line)
        XCTAssertTrue(python.received?.hasSuffix(Self.body) ?? false, "\(python)", file: file, line: line)
        let curl = try curl(port: proxy.port, ["-k"])
        XCTAssertEqual(curl.ended, .exited(0), "curl -k: \(curl.stderr)", file: file, line: line)
        XCTAssertEqual(curl.stdout, Self.body, file: file, line: line)
    }
}
