import Foundation
import Glibc
import XCTest

/// The handshake faults (`--fault tls.*`) through the binary, met by Python's ssl module,
/// `openssl s_client` and curl: each client must report exactly what it reports against a
/// real server misbehaving that way, and no client that failed its handshake may reach the
/// upstream.
final class TLSHandshakeFaultTests: TLSIntegrationCase {
    private var echo: EchoServer?

    override func tearDown() {
        echo?.stop()
        super.tearDown()
    }

    /// An echo upstream and a debug-logging `--tls-profile valid` proxy with `faults`.
    private func proxy(_ faults: [String], _ extra: [String] = []) throws -> ProxyProcess {
        let echo = try EchoServer()
        self.echo = echo
        return try workspace.startProxy(upstream: "127.0.0.1:\(echo.port)", ["--tls-profile", "valid", "--log-level", "debug"]
                                        + faults.flatMap { ["--fault", $0] } + extra)
    }

    private var upstreamAccepted: Int { echo?.accepted.current ?? -1 }

    /// A verifying Python client, one connection.
    private func verifying(_ proxy: ProxyProcess, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> PythonOutcome {
        try pythonConnection(port: proxy.port, ["--cafile", workspace.root] + extra, file: file, line: line)
    }

    private func assertPrefix(_ text: String?, _ prefix: String, _ context: @autoclosure () -> String = "",
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(text?.hasPrefix(prefix) ?? false, "expected \"\(prefix)…\", got \(text ?? "nothing") \(context())", file: file, line: line)
    }

    func testAlertHandshakeFailure() throws {
        let proxy = try proxy(["tls.alert"])
        let python = try verifying(proxy)
        XCTAssertEqual(python.stage, "handshake", "\(python)")
        XCTAssertEqual(python.error, "SSLError", "\(python)")
        assertPrefix(python.message, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:")

        let sClient = try sClient(port: proxy.port, root: workspace.root)
        XCTAssertEqual(sClient.ended, .exited(1), sClient.output)
        XCTAssertTrue(sClient.output.contains(":sslv3 alert handshake failure:"), sClient.output)
        XCTAssertTrue(sClient.output.contains("SSL alert number 40"), sClient.output)

        let curl = try curl(port: proxy.port, ["--cacert", workspace.root])
        XCTAssertEqual(curl.ended, .exited(35), curl.stderr)
        assertPrefix(curl.stderr, "curl: (35) OpenSSL/")
        XCTAssertTrue(curl.stderr.hasSuffix(":SSL routines::sslv3 alert handshake failure\n"), curl.stderr)

        let line = "TLS handshake failed (profile valid): fault tls.alert answered the ClientHello with an alert"
        XCTAssertTrue(waitForLog(proxy, line, count: 3), proxy.process.stderrText)
        XCTAssertEqual(upstreamAccepted, 0, "a client whose handshake failed reached the upstream")
    }

    func testAlertProtocolVersion() throws {
        let proxy = try proxy(["tls.alert:alert=protocol_version"])
        let python = try verifying(proxy)
        XCTAssertEqual(python.stage, "handshake", "\(python)")
        XCTAssertEqual(python.error, "SSLError", "\(python)")
        assertPrefix(python.message, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:")

        let sClient = try sClient(port: proxy.port, root: workspace.root)
        XCTAssertEqual(sClient.ended, .exited(1), sClient.output)
        XCTAssertTrue(sClient.output.contains(":tlsv1 alert protocol version:"), sClient.output)
        XCTAssertTrue(sClient.output.contains("SSL alert number 70"), sClient.output)

        let curl = try curl(port: proxy.port, ["--cacert", workspace.root])
        XCTAssertEqual(curl.ended, .exited(35), curl.stderr)
        XCTAssertTrue(curl.stderr.hasSuffix(":SSL routines::tlsv1 alert protocol version\n"), curl.stderr)
        XCTAssertTrue(waitForLog(proxy, "fault tls.alert answered the ClientHello with an alert", count: 3), proxy.process.stderrText)
        XCTAssertEqual(upstreamAccepted, 0)
    }

    /// The handshake completes, 1.5 s late (and not much later), and data then flows; three
    /// clients at once are delayed side by side, not one after another.
    func testHandshakeDelay() throws {
        let proxy = try proxy(["tls.handshake_delay:delay=1500ms"])
        let lines = try pythonClient(["--port", "\(proxy.port)", "--cafile", workspace.root, "--count", "3", "--parallel", "3"])
        let summary = try XCTUnwrap(lines.last?["summary"] as? [String: Any], "\(lines)")
        XCTAssertEqual(summary["done"] as? Int, 3, "\(summary)")
        let fastest = try XCTUnwrap(summary["min_handshake_seconds"] as? Double)
        let slowest = try XCTUnwrap(summary["max_handshake_seconds"] as? Double)
        XCTAssertGreaterThanOrEqual(fastest, 1.5, "a handshake took \(fastest) s with a 1500 ms delay")
        XCTAssertLessThan(slowest, 2.5, "a handshake took \(slowest) s with a 1500 ms delay")

        let started = monotonicSeconds()
        let sClient = try sClient(port: proxy.port, root: workspace.root)
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(sClient.ended, .exited(0), sClient.output)
        XCTAssertTrue(sClient.output.contains("Verify return code: 0 (ok)"), sClient.output)
        XCTAssertGreaterThanOrEqual(elapsed, 1.5, "s_client finished after \(elapsed) s")
        XCTAssertLessThan(elapsed, 2.5, "s_client finished after \(elapsed) s")
        XCTAssertTrue(waitForLog(proxy, "TLS handshake done: TLSv1.3 TLS_AES_256_GCM_SHA384, profile valid", count: 4),
                      proxy.process.stderrText)
    }

    func testResetHandshake() throws {
        let proxy = try proxy(["tls.reset_handshake"])
        let python = try verifying(proxy)
        XCTAssertEqual(python.stage, "handshake", "\(python)")
        XCTAssertEqual(python.error, "ConnectionResetError", "\(python)")
        XCTAssertEqual(python.message, "[Errno 104] Connection reset by peer")

        let sClient = try sClient(port: proxy.port, root: workspace.root)
        XCTAssertEqual(sClient.ended, .exited(1), sClient.output)
        XCTAssertTrue(sClient.output.contains("write:errno=104"), sClient.output)

        let curl = try curl(port: proxy.port, ["--cacert", workspace.root])
        XCTAssertEqual(curl.ended, .exited(35), curl.stderr)
        XCTAssertEqual(curl.stderr, "curl: (35) Recv failure: Connection reset by peer\n")

        XCTAssertTrue(waitForLog(proxy, "TLS handshake failed (profile valid): fault tls.reset_handshake reset the connection after the ClientHello",
                                 count: 3), proxy.process.stderrText)
        XCTAssertEqual(messages(proxy).filter { $0.hasSuffix("closed (0 bytes up, 0 bytes down), with RST") }.count, 3,
                       proxy.process.stderrText)
        XCTAssertEqual(upstreamAccepted, 0)
    }

    func testCloseHandshake() throws {
        let proxy = try proxy(["tls.close_handshake"])
        let python = try verifying(proxy)
        XCTAssertEqual(python.stage, "handshake", "\(python)")
        XCTAssertEqual(python.error, "SSLEOFError", "\(python)")
        assertPrefix(python.message, "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:")

        let sClient = try sClient(port: proxy.port, root: workspace.root)
        XCTAssertEqual(sClient.ended, .exited(1), sClient.output)
        XCTAssertTrue(sClient.output.contains(":unexpected eof while reading:"), sClient.output)

        let curl = try curl(port: proxy.port, ["--cacert", workspace.root])
        XCTAssertEqual(curl.ended, .exited(35), curl.stderr)
        XCTAssertEqual(curl.stderr, "curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to localhost:\(proxy.port) \n")

        XCTAssertTrue(waitForLog(proxy, "TLS handshake failed (profile valid): fault tls.close_handshake closed the connection after the ClientHello",
                                 count: 3), proxy.process.stderrText)
        XCTAssertEqual(messages(proxy).filter { $0.hasSuffix("closed (0 bytes up, 0 bytes down)") }.count, 3, proxy.process.stderrText)
        XCTAssertEqual(upstreamAccepted, 0)
    }

    /// A TLS 1.0-only server: modern clients refuse it in their own words, a client that
    /// still allows TLS 1.0 and SHA-1 gets through on TLS 1.0.
    func testMaxVersionTLS10() throws {
        let proxy = try proxy(["tls.max_version:version=1.0"])
        let python = try verifying(proxy)
        XCTAssertEqual(python.stage, "handshake", "\(python)")
        XCTAssertEqual(python.error, "SSLError", "\(python)")
        assertPrefix(python.message, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:")

        // s_client and curl still offer TLS 1.0, then refuse the server's SHA-1 signature.
        let sClient = try sClient(port: proxy.port, root: workspace.root)
        XCTAssertEqual(sClient.ended, .exited(1), sClient.output)
        XCTAssertTrue(sClient.output.contains(":legacy sigalg disallowed or unsupported:"), sClient.output)
        XCTAssertTrue(sClient.output.contains("Protocol  : TLSv1\n"), sClient.output)
        let curl = try curl(port: proxy.port, ["--cacert", workspace.root])
        XCTAssertEqual(curl.ended, .exited(35), curl.stderr)
        XCTAssertTrue(curl.stderr.hasSuffix(":SSL routines::legacy sigalg disallowed or unsupported\n"), curl.stderr)
        XCTAssertEqual(upstreamAccepted, 0)

        let legacy = try verifying(proxy, ["--legacy"])
        XCTAssertTrue(legacy.completed, "\(legacy)")
        XCTAssertEqual(legacy.fields["version"] as? String, "TLSv1")
        XCTAssertEqual(legacy.received, "hello through TLS\n")
        XCTAssertTrue(waitForLog(proxy, "TLS handshake done: TLSv1 ", count: 1), proxy.process.stderrText)
        XCTAssertEqual(upstreamAccepted, 1)
    }

    /// TLS 1.3: the handshake completes on the client's side, the server's alert comes with
    /// the first read. TLS 1.2: the handshake itself fails.
    func testRequireClientCert() throws {
        let proxy = try proxy(["tls.require_client_cert"])
        let python = try verifying(proxy)
        XCTAssertEqual(python.stage, "read", "\(python)")
        XCTAssertEqual(python.error, "SSLError", "\(python)")
        assertPrefix(python.message, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:")

        let tls12 = try verifying(proxy, ["--max-version", "1.2"])
        XCTAssertEqual(tls12.stage, "handshake", "\(tls12)")
        assertPrefix(tls12.message, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:")

        // -ign_eof: read on after stdin's EOF, until the server's alert.
        let sClient = try sClient(port: proxy.port, root: workspace.root, ["-ign_eof"])
        XCTAssertEqual(sClient.ended, .exited(1), sClient.output)
        XCTAssertTrue(sClient.output.contains(":tlsv13 alert certificate required:"), sClient.output)
        XCTAssertTrue(sClient.output.contains("SSL alert number 116"), sClient.output)

        let curl = try curl(port: proxy.port, ["--cacert", workspace.root])
        XCTAssertEqual(curl.ended, .exited(56), curl.stderr)
        XCTAssertTrue(curl.stderr.contains(":SSL routines::tlsv13 alert certificate required"), curl.stderr)

        XCTAssertTrue(waitForLog(proxy, "TLS handshake failed (profile valid): peer did not return a certificate", count: 4),
                      proxy.process.stderrText)
        XCTAssertEqual(upstreamAccepted, 0)
    }

    /// `first=2`: the first two connections meet the fault, every later one passes.
    func testFirstTwoConnectionsOnly() throws {
        let proxy = try proxy(["tls.reset_handshake:first=2"])
        let lines = try pythonClient(["--port", "\(proxy.port)", "--cafile", workspace.root, "--count", "5", "--each"])
        XCTAssertEqual(lines.map { PythonOutcome(fields: $0).error ?? "ok" },
                       ["ConnectionResetError", "ConnectionResetError", "ok", "ok", "ok"], "\(lines)")
        XCTAssertEqual(upstreamAccepted, 3)
    }

    /// `every=2` picks the 2nd, 4th… connection; `probability` with `--seed` picks the same
    /// connections in two processes.
    func testEveryAndSeededProbability() throws {
        let every = try proxy(["tls.alert:every=2"])
        let picked = try pythonClient(["--port", "\(every.port)", "--cafile", workspace.root, "--count", "6", "--each"])
            .map { PythonOutcome(fields: $0).completed ? "." : "X" }.joined()
        XCTAssertEqual(picked, ".X.X.X")

        let echo = try XCTUnwrap(self.echo)
        var patterns: [String] = []
        for _ in 0..<2 {
            let proxy = try workspace.startProxy(upstream: "127.0.0.1:\(echo.port)", ["--tls-profile", "valid", "--seed", "7",
                                                                                     "--fault", "tls.close_handshake:probability=0.5"])
            patterns.append(try pythonClient(["--port", "\(proxy.port)", "--cafile", workspace.root, "--count", "16", "--each"])
                .map { PythonOutcome(fields: $0).completed ? "." : "X" }.joined())
            proxy.process.stop()
        }
        XCTAssertEqual(patterns[0], patterns[1], "--seed 7 picked other connections in a second process")
        XCTAssertTrue(patterns[0].contains(".") && patterns[0].contains("X"), "probability=0.5 over 16 connections: \(patterns[0])")
    }

    /// `tls.profile` switches what new handshakes meet: with first=1, the first client meets
    /// an expired certificate, the next the proxy's own valid one.
    func testProfileFaultSwitchesTheCertificate() throws {
        let proxy = try proxy(["tls.profile:profile=expired,first=1"])
        let first = try verifying(proxy)
        XCTAssertEqual(first.verifyCode, 10, "\(first)")
        XCTAssertEqual(first.verifyMessage, "certificate has expired")
        let second = try verifying(proxy)
        XCTAssertTrue(second.completed, "\(second)")
        XCTAssertTrue(waitForLog(proxy, "TLS handshake failed (profile expired): the client sent alert certificate_expired"),
                      proxy.process.stderrText)
        XCTAssertTrue(waitForLog(proxy, "TLS handshake done: TLSv1.3 TLS_AES_256_GCM_SHA384, profile valid"), proxy.process.stderrText)
    }
}
