import Foundation
import Glibc
import XCTest

/// `--upstream-tls`: faultline speaking TLS to a real redis-server on its TLS port (with a
/// certificate from `faultline certs`), alone and with TLS toward the client as well; and
/// every way the upstream's certificate can fail faultline's own verification.
final class TLSUpstreamTests: TLSIntegrationCase {
    /// redis-cli ARGS: through the proxy on `port` with TLS toward it when `tls`.
    private func redisCLI(port: UInt16, tls: Bool, _ arguments: [String]) throws -> (ended: Termination?, stdout: String, stderr: String) {
        let cli = try TLSTools.require("redis-cli", package: "redis-tools")
        let tlsArguments = tls ? ["--tls", "--cacert", workspace.root, "--sni", "localhost"] : []
        return try run(cli, tlsArguments + ["-h", "127.0.0.1", "-p", "\(port)"] + arguments, timeout: 15)
    }

    /// redis-cli straight to the server, bypassing faultline: what really arrived.
    private func direct(_ redis: TLSRedis, _ arguments: [String]) throws -> String {
        let cli = try TLSTools.require("redis-cli", package: "redis-tools")
        let result = try run(cli, ["--tls", "--cacert", redis.bundle.ca, "--sni", "localhost", "-h", "127.0.0.1",
                                   "-p", "\(redis.port)"] + arguments, timeout: 15)
        XCTAssertEqual(result.ended, .exited(0), result.stderr)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// TLS toward the client (profile valid) and toward redis (verified against its bundle).
    private func bothLegs(_ redis: TLSRedis) throws -> ProxyProcess {
        try workspace.startProxy(upstream: redis.address, ["--tls-profile", "valid", "--upstream-tls", "--upstream-ca", redis.bundle.ca,
                                                           "--upstream-sni", "localhost", "--log-level", "debug"])
    }

    func testRedisCliSetAndGetWithTLSOnBothLegs() throws {
        let redis = try workspace.startTLSRedis()
        let proxy = try bothLegs(redis)
        let key = "faultline:tls:\(getpid())"
        let value = UUID().uuidString
        let set = try redisCLI(port: proxy.port, tls: true, ["set", key, value])
        XCTAssertEqual(set.ended, .exited(0), set.stderr)
        XCTAssertEqual(set.stdout, "OK\n")
        let get = try redisCLI(port: proxy.port, tls: true, ["get", key])
        XCTAssertEqual(get.ended, .exited(0), get.stderr)
        XCTAssertEqual(get.stdout, "\(value)\n")
        XCTAssertEqual(try direct(redis, ["get", key]), value, "the SET did not reach redis-server")
        XCTAssertTrue(waitForLog(proxy, "TLS handshake done: TLSv1.3 TLS_AES_256_GCM_SHA384, profile valid", count: 2),
                      proxy.process.stderrText)
        XCTAssertEqual(warnings(proxy), [])
        XCTAssertEqual(messages(proxy).filter { $0.contains("failed") }, [], proxy.process.stderrText)
    }

    /// redis-benchmark over TLS, 20 connections: every request answered, and exactly 5,000
    /// INCRs reached the server (a lost or doubled command changes the count).
    func testRedisBenchmarkWithTLSOnBothLegs() throws {
        let benchmark = try TLSTools.require("redis-benchmark", package: "redis-tools")
        let redis = try workspace.startTLSRedis()
        let proxy = try bothLegs(redis)
        let started = monotonicSeconds()
        let result = try run(benchmark, ["--tls", "--cacert", workspace.root, "--sni", "localhost", "-h", "127.0.0.1",
                                         "-p", "\(proxy.port)", "-n", "5000", "-c", "20", "-t", "incr,set,get"], timeout: 90)
        let elapsed = monotonicSeconds() - started
        XCTAssertEqual(result.ended, .exited(0), "redis-benchmark: \(result.stderr)\n\(result.stdout)")
        let lines = result.stdout.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
        XCTAssertEqual(lines.filter { $0.contains("5000 requests completed") }.count, 3, result.stdout)
        XCTAssertFalse(result.stdout.contains("Error") || result.stderr.contains("Error"), result.stdout + result.stderr)
        XCTAssertEqual(try direct(redis, ["get", "counter:__rand_int__"]), "5000")
        print("redis-benchmark --tls through faultline (TLS both legs): 3 × 5000 requests in \(String(format: "%.1f", elapsed)) s")
        XCTAssertTrue(proxy.process.isRunning, "proxy died under redis-benchmark:\n\(proxy.process.stderrText)")
        XCTAssertEqual(warnings(proxy), [])
    }

    /// The upstream's certificate is for localhost and 127.0.0.1, not the name sent: the
    /// proxy logs the mismatch and closes the client, whose handshake had completed.
    func testWrongUpstreamNameIsLoggedAndTheClientClosed() throws {
        let redis = try workspace.startTLSRedis()
        let proxy = try workspace.startProxy(upstream: redis.address, ["--tls-profile", "valid", "--upstream-tls", "--upstream-ca",
                                                                      redis.bundle.ca, "--upstream-sni", "cache.example.test"])
        let python = try pythonConnection(port: proxy.port, ["--cafile", workspace.root, "--send", "PING\r\n"])
        XCTAssertEqual(python.stage, "read", "\(python)")
        XCTAssertEqual(python.error, "EOF", "\(python)")
        XCTAssertEqual(python.received, "")
        let logged = "TLS to upstream \(redis.address) failed: certificate verify failed: hostname mismatch (verify code 62); closing the client"
        XCTAssertTrue(waitForLog(proxy, logged), proxy.process.stderrText)

        let cli = try redisCLI(port: proxy.port, tls: true, ["ping"])
        XCTAssertNotEqual(cli.ended, .exited(0), "redis-cli: \(cli.stdout)")
        XCTAssertFalse(cli.stdout.contains("PONG"), cli.stdout)
        XCTAssertTrue(waitForLog(proxy, logged, count: 2), proxy.process.stderrText)
        XCTAssertTrue(proxy.process.isRunning)
    }

    /// Without --upstream-ca the system's roots are used, and faultline's CA is not one of
    /// them: the chain (leaf + intermediate) has no known issuer.
    func testWithoutUpstreamCAVerificationFails() throws {
        let redis = try workspace.startTLSRedis()
        let proxy = try workspace.startProxy(upstream: redis.address, ["--upstream-tls", "--upstream-sni", "localhost"])
        let cli = try redisCLI(port: proxy.port, tls: false, ["ping"])
        XCTAssertNotEqual(cli.ended, .exited(0), "redis-cli: \(cli.stdout)")
        XCTAssertFalse(cli.stdout.contains("PONG"), cli.stdout)
        XCTAssertTrue(waitForLog(proxy, "TLS to upstream \(redis.address) failed: certificate verify failed: "
                                 + "unable to get local issuer certificate (verify code 20); closing the client"),
                      proxy.process.stderrText)
    }

    /// --upstream-insecure and --upstream-no-verify both accept an unverifiable upstream (no
    /// CA, a wrong name) and carry the traffic.
    func testInsecureAndNoVerifyAcceptTheUpstream() throws {
        let redis = try workspace.startTLSRedis()
        for flag in ["--upstream-insecure", "--upstream-no-verify"] {
            let proxy = try workspace.startProxy(upstream: redis.address, ["--tls-profile", "valid", "--upstream-tls", flag,
                                                                          "--upstream-sni", "cache.example.test"])
            let cli = try redisCLI(port: proxy.port, tls: true, ["ping"])
            XCTAssertEqual(cli.ended, .exited(0), "\(flag): \(cli.stderr)")
            XCTAssertEqual(cli.stdout, "PONG\n", flag)
            XCTAssertEqual(warnings(proxy), [], flag)
            proxy.process.stop()
        }
    }

    /// A plain client, TLS only toward the upstream; without --upstream-sni the upstream's
    /// address is what its certificate must name (this one names 127.0.0.1 too).
    func testPlainClientToTLSUpstream() throws {
        let redis = try workspace.startTLSRedis()
        let proxy = try workspace.startProxy(upstream: redis.address, ["--upstream-tls", "--upstream-ca", redis.bundle.ca])
        let key = "faultline:tls-plain:\(getpid())"
        let set = try redisCLI(port: proxy.port, tls: false, ["set", key, "plain-to-tls"])
        XCTAssertEqual(set.ended, .exited(0), set.stderr)
        XCTAssertEqual(set.stdout, "OK\n")
        let get = try redisCLI(port: proxy.port, tls: false, ["get", key])
        XCTAssertEqual(get.stdout, "plain-to-tls\n")
        XCTAssertEqual(try direct(redis, ["get", key]), "plain-to-tls")
    }

    /// Every certificate defect on the upstream's side, served by a TLS upstream with a
    /// `faultline certs` bundle: faultline (verifying against the root) logs the code and
    /// words OpenSSL gives, closes the client with a FIN, and the upstream meets its alert.
    func testEveryUpstreamCertificateDefectIsLoggedWithItsCode() throws {
        let defects: [(profile: String, reason: String)] = [
            ("incomplete_chain", "unable to get local issuer certificate (verify code 20)"),
            ("expired", "certificate has expired (verify code 10)"),
            ("not_yet_valid", "certificate is not yet valid (verify code 9)"),
            ("wrong_host", "hostname mismatch (verify code 62)"),
            ("self_signed", "self-signed certificate (verify code 18)"),
            ("untrusted_root", "self-signed certificate in certificate chain (verify code 19)"),
            ("weak_signature", "CA signature digest algorithm too weak (verify code 68)"),
            ("weak_key", "EE certificate key too weak (verify code 66)"),
        ]
        let valid = try workspace.certs(profile: "valid", hosts: ["localhost"], out: "upstream-valid")
        let upstream = try TLSUpstream(context: try TLSContext.server(chain: valid.cert, key: valid.key))
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--upstream-tls", "--upstream-ca", valid.ca,
                                                                         "--upstream-sni", "localhost"])
        // The valid bundle passes: an echo through it proves the setup.
        let echo = upstream.serve { stream in
            let line = try stream.readExactly(5)
            try stream.write(line)
            _ = stream.readToEnd(timeout: 5)
        }
        let client = try Sock.connect(port: proxy.port, timeout: 10)
        XCTAssertEqual(try Sock.roundTrip(client, Array("ping\n".utf8)) < 5, true)
        Sock.close(client)
        try echo.join(timeout: 10)

        for (profile, reason) in defects {
            let bundle = try workspace.certs(profile: profile, hosts: ["localhost"], out: "upstream-\(profile)")
            let context = try TLSContext.server(chain: bundle.cert, key: bundle.key, anyKey: true)
            let served = upstream.serve(context: context) { _ in }
            let fd = try Sock.connect(port: proxy.port, timeout: 10)
            let (count, end) = Sock.ending(fd)
            Sock.close(fd)
            XCTAssertEqual(count, 0, profile)
            XCTAssertEqual(end, .eof, "\(profile): the client should be closed with a FIN")
            XCTAssertThrowsError(try served.join(timeout: 10), "\(profile): the upstream's handshake should fail") { error in
                XCTAssertTrue("\(error)".contains("alert"), "\(profile): the upstream met \(error)")
            }
            let logged = "TLS to upstream \(upstream.address) failed: certificate verify failed: \(reason); closing the client"
            XCTAssertTrue(waitForLog(proxy, logged), "\(profile): expected \"\(logged)\" in:\n\(proxy.process.stderrText)")
        }
        XCTAssertTrue(proxy.process.isRunning)
    }

    /// Without --upstream-sni the address is checked: a certificate for localhost alone does
    /// not name 127.0.0.1.
    func testWithoutSNITheAddressIsChecked() throws {
        let bundle = try workspace.certs(profile: "valid", hosts: ["localhost"], out: "localhost-only")
        let upstream = try TLSUpstream(context: try TLSContext.server(chain: bundle.cert, key: bundle.key))
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--upstream-tls", "--upstream-ca", bundle.ca])
        let served = upstream.serve { _ in }
        let fd = try Sock.connect(port: proxy.port, timeout: 10)
        XCTAssertEqual(Sock.ending(fd).end, .eof)
        Sock.close(fd)
        XCTAssertThrowsError(try served.join(timeout: 10))
        XCTAssertTrue(waitForLog(proxy, "TLS to upstream \(upstream.address) failed: certificate verify failed: "
                                 + "IP address mismatch (verify code 64); closing the client"), proxy.process.stderrText)
    }
}
