import Foundation
import Glibc
import XCTest

/// Base of the HTTPProtocol*Tests: real upstreams (aiohttp's server, nginx), `faultline proxy
/// --protocol http` in front of one (plain, or terminating TLS for localhost and 127.0.0.1),
/// and the clients a user runs: curl, requests, httpx, aiohttp, websockets and the OTLP
/// exporter (Tests/clients/http_client.py), and raw sockets. A scenario folder per test (for
/// YAML, JUnit and nginx's files) comes from ScenarioRunCase.
class HTTPProtocolCase: ScenarioRunCase {
    private var tlsWorkspace: TLSWorkspace?
    static let libraries = "requests, httpx, aiohttp, websockets, pybreaker, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http"

    override func setUpWithError() throws {
        try super.setUpWithError()
        _ = try TLSTools.require("curl", package: "curl")
        let imports = try runCommand(try TLSTools.python(), ["-c", "import \(Self.libraries)"], timeout: 30)
        guard imports.0 == .exited(0) else {
            throw XCTSkip("python3 lacks the HTTP clients (pip install -r Tests/clients/requirements.txt): \(imports.stderr)")
        }
    }

    override func tearDown() {
        let failed = (testRun?.totalFailureCount ?? 1) > 0
        super.tearDown()
        if let tlsWorkspace {
            failed ? print("kept \(tlsWorkspace.directory)") : tlsWorkspace.remove()
        }
    }

    // MARK: upstreams

    func pythonUpstream() throws -> HTTPUpstream {
        try HTTPUpstream.python(try TLSTools.python(), script: TLSTools.client("http_upstream.py"))
    }

    private var nginxCount = 0

    /// nginx, serving HTTPS with `tls`'s certificate when given.
    func nginxUpstream(tls: CertificateBundleFiles? = nil) throws -> HTTPUpstream {
        nginxCount += 1
        return try HTTPUpstream.nginx(try TLSTools.require("nginx", package: "nginx"), in: "\(folder)/nginx-\(nginxCount)", tls: tls)
    }

    /// Both upstreams, for checks that hold whichever server answers.
    func bothUpstreams() throws -> [HTTPUpstream] { [try pythonUpstream(), try nginxUpstream()] }

    // MARK: faultline

    /// The directory TLS proxies run in (their CA is made there), made on first use.
    var workspace: TLSWorkspace {
        get throws {
            if let tlsWorkspace { return tlsWorkspace }
            let made = try TLSWorkspace()
            tlsWorkspace = made
            return made
        }
    }

    /// `faultline proxy --protocol http --seed SEED --fault F…` in front of `upstream`; with
    /// `tls`, terminating TLS with the `valid` profile for localhost and 127.0.0.1.
    func startProxy(_ upstream: HTTPUpstream, _ faults: [String] = [], tls: Bool = false, seed: UInt64 = 1,
                    extra: [String] = []) throws -> ProxyProcess {
        let arguments = ["--protocol", "http", "--seed", "\(seed)"] + faults.flatMap { ["--fault", $0] } + extra
        guard tls else { return try ProxyProcess.start(upstream: upstream.address, arguments) }
        return try workspace.startProxy(upstream: upstream.address, arguments
            + ["--tls-profile", "valid", "--tls-host", "localhost", "--tls-host", "127.0.0.1"])
    }

    /// Where clients reach `port`: http://127.0.0.1:PORT, or https://localhost:PORT over TLS.
    func base(_ port: UInt16, tls: Bool = false) -> String { tls ? "https://localhost:\(port)" : "http://127.0.0.1:\(port)" }

    // MARK: clients

    /// `http_client.py MODE --base BASE --path P…` (verifying the proxy's CA over TLS): its JSON lines.
    func python(_ mode: String, port: UInt16, tls: Bool = false, paths: [String], _ arguments: [String] = [],
                timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line) throws -> [ClientLine] {
        var all = [TLSTools.client("http_client.py"), mode, "--base", base(port, tls: tls)] + paths.flatMap { ["--path", $0] } + arguments
        if tls { all += ["--ca", try workspace.root] }
        let (ended, stdout, stderr) = try runCommand(try TLSTools.python(), all, timeout: timeout)
        XCTAssertEqual(ended, .exited(0), "http_client.py \(mode) \(paths) \(arguments): \(stderr)\n\(stdout)", file: file, line: line)
        return stdout.split(separator: "\n").compactMap { line in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]).map(ClientLine.init)
        }
    }

    /// The one line a single-request run printed about its response or error.
    func pythonOne(_ mode: String, port: UInt16, tls: Bool = false, path: String, _ arguments: [String] = [],
                   timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line) throws -> ClientLine {
        let lines = try python(mode, port: port, tls: tls, paths: [path], arguments, timeout: timeout, file: file, line: line)
            .filter { $0.fields["sent"] == nil }
        return try XCTUnwrap(lines.first, "http_client.py \(mode) printed nothing", file: file, line: line)
    }

    /// `curl -sS ARGS URL…` (the proxy's CA trusted and localhost pinned to 127.0.0.1 over TLS);
    /// `url` paths are joined to `base(port)`.
    func curl(port: UInt16, tls: Bool = false, _ paths: [String], _ arguments: [String] = [],
              timeout: Double = 30) throws -> CurlRun {
        let tool = try TLSTools.require("curl", package: "curl")
        var all = ["-sS", "--max-time", "\(Int(timeout - 5))"] + arguments
        if tls { all += ["--cacert", try workspace.root, "--resolve", "localhost:\(port):127.0.0.1"] }
        let (ended, stdout, stderr) = try runCommand(tool, all + paths.map { base(port, tls: tls) + $0 }, timeout: timeout)
        return CurlRun(ended: ended, stdout: stdout, stderr: stderr)
    }

    /// What a client reading `path` straight from the upstream (no faultline) gets: the
    /// length and sha256 a client must see through the proxy too.
    func directDigest(_ upstream: HTTPUpstream, _ path: String) throws -> (length: Int, sha256: String) {
        let answer = try pythonOne("requests", port: upstream.port, path: path)
        return (try XCTUnwrap(answer.int("length")), try XCTUnwrap(answer.string("sha256")))
    }

    // MARK: faultline run

    /// Writes scenario NAME with one `protocol: http` proxy, `api`, listening on `listen` in
    /// front of `upstream` (terminating TLS for localhost with `tls`); `rest` (timeline,
    /// faults, expect) follows at the top level.
    func httpScenario(_ name: String, listen: UInt16, upstream: HTTPUpstream, seed: Int, tls: Bool = false,
                      _ rest: String) throws -> String {
        try writeScenario(name, """
            name: \(name)
            seed: \(seed)
            proxies:
              api:
                listen: 127.0.0.1:\(listen)
                upstream: \(upstream.address)
                protocol: http
            \(tls ? "    tls: { profile: valid, host: localhost }" : "")

            """ + rest)
    }

    /// Each plan under its own `faultline run SCENARIO --junit FOLDER/NAME.xml -- COMMAND`, all
    /// at once; the runs by name.
    func runSideBySide(_ plans: [String: (scenario: String, command: [String])]) throws -> [String: ScenarioRun] {
        let this = UncheckedSendable(self)
        let workers = plans.map { name, plan in
            (name, Worker("faultline run (\(name))") {
                try this.value.run(plan.scenario, ["--junit", "\(this.value.folder)/\(name).xml"], command: plan.command, timeout: 60)
            })
        }
        var runs: [String: ScenarioRun] = [:]
        for (name, worker) in workers { runs[name] = try worker.join(timeout: 90) }
        return runs
    }

    /// libevent writes its own warnings to stderr ("[warn] Epoll ADD(1) on fd 32 failed…"): a
    /// proxy that touched a closed socket says so there.
    func assertNoLibeventWarnings(_ proxy: ProxyProcess, file: StaticString = #filePath, line: UInt = #line) {
        let lines = proxy.process.stderrText.split(separator: "\n").filter { $0.hasPrefix("[warn]") || $0.hasPrefix("[err]") }
        XCTAssertEqual(lines, [], file: file, line: line)
    }
}

/// One JSON line of http_client.py.
struct ClientLine: CustomStringConvertible {
    let fields: [String: Any]
    init(_ fields: [String: Any]) { self.fields = fields }

    func string(_ key: String) -> String? { fields[key] as? String }
    func int(_ key: String) -> Int? { fields[key] as? Int }
    func seconds(_ key: String = "seconds") -> Double? { (fields[key] as? Double) ?? (fields[key] as? Int).map(Double.init) }
    var status: Int? { int("status") }
    var body: String? { string("body") }
    var error: String? { string("error") }
    var message: String? { string("message") }
    func header(_ name: String) -> String? { (fields["headers"] as? [String: String])?[name.lowercased()] }
    var headers: [String: String] { fields["headers"] as? [String: String] ?? [:] }
    var description: String {
        (try? String(data: JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), encoding: .utf8)) ?? "\(fields)"
    }
}

/// How a curl run ended: its exit code (18: partial file, 52: empty reply, 56: receive
/// failure), stdout (the body) and stderr (with -v, the exchange).
struct CurlRun: CustomStringConvertible {
    let ended: Termination?
    let stdout: String
    let stderr: String
    var exitCode: Int32? { if case .exited(let code) = ended { code } else { nil } }
    var description: String { "curl \(ended.map { "\($0)" } ?? "still running")\n--- stdout\n\(stdout.prefix(2000))\n--- stderr\n\(stderr.prefix(4000))" }
}
