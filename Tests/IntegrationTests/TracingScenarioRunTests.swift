import Foundation
import XCTest

/// The shipped scenarios/tracing-ca-chain.yaml (ports moved to free ones) judges the example
/// trace exporter as its comment promises: the chain loses its intermediate mid-run (a phase
/// switching the profile); the verifying exporter fails closed with Python's exact error, keeps
/// its data to itself, exports again once the chain is whole, and passes; the same exporter
/// with `--insecure` (ssl.CERT_NONE) sends spans over the broken chain and fails the run.
final class TracingScenarioRunTests: ScenarioRunCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    private let rejectsLabel = "client_rejects_certificate: true (during: chain-broken, proxy: tracing)"
    private let recoveryLabel = "first_success_within: 2s (during: fixed, proxy: tracing)"

    func testTracingScenarioPassesTheVerifyingExporterAndFailsTheInsecureOne() throws {
        let workspace = try TLSWorkspace()
        let python = try python()
        let collectorPort = try Sock.freePort()
        let collector = try ChildProcess.spawn(python, ["\(Self.packageRoot)/examples/tracing_collector.py", "--port", "\(collectorPort)"])
        XCTAssertTrue(accepts(collectorPort), collector.stderrText)
        let bundle = try workspace.certs(profile: "valid", hosts: ["localhost"], out: "certs")

        let text = try String(contentsOfFile: "\(Self.packageRoot)/scenarios/tracing-ca-chain.yaml", encoding: .utf8)
        var plans: [String: (scenario: String, port: UInt16)] = [:]
        for style in ["verifying", "insecure"] {
            let port = try Sock.freePort()
            let yaml = text.replacingOccurrences(of: "listen: 127.0.0.1:14318", with: "listen: 127.0.0.1:\(port)")
                .replacingOccurrences(of: "upstream: 127.0.0.1:4318", with: "upstream: 127.0.0.1:\(collectorPort)")
            XCTAssertNotEqual(yaml, text, "tracing-ca-chain.yaml no longer listens on 14318 in front of 4318")
            plans[style] = (try writeScenario("tracing-\(style)", yaml), port)
        }
        let this = UncheckedSendable(self)
        let workers = plans.map { style, plan in
            (style, Worker("faultline run (\(style))") {
                let client = [python, "\(Self.packageRoot)/examples/tracing_client.py", "--ca", bundle.ca,
                              "--port", "\(plan.port)", "--duration", "16"] + (style == "insecure" ? ["--insecure"] : [])
                return try this.value.run(plan.scenario, command: client, in: workspace.directory, timeout: 60)
            })
        }
        var runs: [String: ScenarioRun] = [:]
        for (style, worker) in workers { runs[style] = try worker.join(timeout: 90) }

        let verifying = try XCTUnwrap(runs["verifying"])
        XCTAssertEqual(verifying.termination, .exited(0), verifying.transcript)
        assertVerdict(verifying, "PASS", rejectsLabel,
                      figure: #"client_rejects_certificate: (\d+) handshakes under incomplete_chain, \1 aborted by the client \(alert unknown_ca ×\1\)"#)
        assertVerdict(verifying, "PASS", recoveryLabel, figure: "first_success_within (?:\(FigureText.measured)) ≤ 2s")
        XCTAssertTrue(verifying.stdout.contains("SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                                + "unable to get local issuer certificate"), verifying.transcript)
        XCTAssertTrue(verifying.stdout.contains("exported batch 1: HTTP 200"), verifying.transcript)

        let insecure = try XCTUnwrap(runs["insecure"])
        XCTAssertEqual(insecure.termination, .exited(1), insecure.transcript)
        assertVerdict(insecure, "FAIL", rejectsLabel,
                      figure: #"client_rejects_certificate: connection \d+ on tracing completed the handshake under incomplete_chain at \S+ and sent data: the client does not verify certificates \((\d+) of \1 connections\)"#)
        XCTAssertFalse(insecure.stdout.contains("export failed"), insecure.transcript)
        collector.stop(grace: 1)
        workspace.remove()
    }

    /// The issue's other insecure client: `curl -k` completes every handshake under an expired
    /// certificate and sends its request, so the run fails naming it; `curl --cacert` aborts
    /// (alert certificate_expired) and the same scenario passes.
    func testCurlWithKFailsAndCurlVerifyingPasses() throws {
        let workspace = try TLSWorkspace()
        let curl = try TLSTools.require("curl", package: "curl")
        let upstreamPort = try Sock.freePort()
        let upstream = try ChildProcess.spawn(try python(), ["-m", "http.server", "--bind", "127.0.0.1", "\(upstreamPort)"])
        XCTAssertTrue(accepts(upstreamPort), upstream.stderrText)
        let label = "client_rejects_certificate: true (proxy: api)"
        var runs: [String: ScenarioRun] = [:]
        for style in ["-k", "--cacert"] {
            let port = try Sock.freePort()
            let scenario = try writeScenario("curl\(style)", """
                name: curl-expired
                proxies:
                  api:
                    listen: 127.0.0.1:\(port)
                    upstream: 127.0.0.1:\(upstreamPort)
                    tls: { profile: expired, host: localhost }
                timeline:
                  - phase: expired
                    for: 1s
                expect:
                  - proxy: api
                    client_rejects_certificate: true
                """)
            let trust = style == "-k" ? ["-k"] : ["--cacert", workspace.root]
            let request = [curl, "-s", "-o", "/dev/null"] + trust + ["https://localhost:\(port)/"]
            runs[style] = try run(scenario, command: ["/bin/sh", "-c", #""$@"; "$@"; exit 0"#, "sh"] + request,
                                  in: workspace.directory, timeout: 30)
        }
        let insecure = try XCTUnwrap(runs["-k"])
        XCTAssertEqual(insecure.termination, .exited(1), insecure.transcript)
        assertVerdict(insecure, "FAIL", label, figure: #"client_rejects_certificate: connection 1 on api completed the handshake under expired at \S+ and sent data: the client does not verify certificates \(2 of 2 connections\)"#)
        let verifying = try XCTUnwrap(runs["--cacert"])
        XCTAssertEqual(verifying.termination, .exited(0), verifying.transcript)
        assertVerdict(verifying, "PASS", label, figure: #"client_rejects_certificate: 2 handshakes under expired, 2 aborted by the client \(alert certificate_expired ×2\)"#)
        upstream.stop(grace: 1)
        workspace.remove()
    }

    /// Whether something accepts connections on `port` within 10 s.
    private func accepts(_ port: UInt16) -> Bool {
        waitUntil(timeout: 10) {
            guard let fd = try? Sock.connect(port: port, timeout: 1) else { return false }
            Sock.close(fd)
            return true
        }
    }
}
