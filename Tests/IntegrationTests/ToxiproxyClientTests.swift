import Foundation
import Glibc
import XCTest

/// The real Toxiproxy clients, unchanged, against `faultline serve`'s Toxiproxy-compatible API:
/// toxiproxy-python 0.1.1 and chaostoolkit-toxiproxy 0.3.1 from PyPI (Tests/clients/requirements.txt)
/// and toxiproxy-cli 2.12.0 (Shopify's Go client). Each trial script (Tests/clients/*_trial.*) drives
/// one client through create / latency toxic / list / disable / enable / remove / reset / delete and
/// checks the data path through the proxy against an echo server of its own: a 300 ms latency toxic
/// makes a round trip of [300, 1000) ms, a disabled proxy refuses connects (ECONNREFUSED), and without
/// toxics a round trip is under 100 ms. The same scripts pass against toxiproxy-server 2.12.0.
/// The Python tests are skipped only when their packages cannot be imported; the CLI test only
/// when the toxiproxy-cli binary is absent ($TOXIPROXY_CLI, else ../shared/peers/toxiproxy-cli
/// beside the package).
final class ToxiproxyClientTests: ScenarioRunCase {
    /// A port P with P+1 free too (the trials use both), on 127.0.0.1. The scripts must be told
    /// their ports, so this races other processes like any free-port probe; rare, and visible
    /// in the transcript as a bind failure. Taken below the kernel's ephemeral range (32768+):
    /// while the suite churns thousands of links, nearly every odd ephemeral port sits in
    /// TIME_WAIT from an outgoing connect, and a pair there was never found (the tests skipped).
    private func freePortPair() throws -> UInt16 {
        for _ in 0..<200 {
            let first = UInt16.random(in: 20000...22998)
            if let (a, _) = try? Sock.listen(host: "127.0.0.1", port: first) {
                defer { Glibc.close(a) }
                if let (b, _) = try? Sock.listen(host: "127.0.0.1", port: first + 1) {
                    Glibc.close(b)
                    return first
                }
            }
        }
        XCTFail("no two consecutive free ports on 127.0.0.1 in 20000-22999 after 200 tries")
        throw XCTSkip("no port pair")
    }

    /// python3, once `import MODULES` works in it; a skip naming the missing packages otherwise.
    private func requirePython(_ modules: String) throws -> String {
        let python = try python()
        let imports = try runCommand(python, ["-c", "import \(modules)"], timeout: 30)
        guard imports.0 == .exited(0) else {
            throw XCTSkip("python3 cannot import \(modules) (pip install --break-system-packages -r Tests/clients/requirements.txt): \(imports.stderr)")
        }
        return python
    }

    /// Runs one trial against a fresh `faultline serve`; asserts exit 0, no FAIL line, every
    /// `ok:` line in `expected` (prefixes, in order) and the summary; then that serve is still up
    /// and exits 0 on SIGTERM. Any failure message carries the script's whole output and serve's log.
    private func trial(_ executable: String, _ arguments: (_ api: String, _ listen: UInt16, _ upstream: String) -> [String],
                       expected: [String], okCount: Int, timeout: Double = 180,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let serve = try ServeProcess.start()
        let listen = try freePortPair()
        let upstream = "127.0.0.1:\(try freePortPair())"
        let started = monotonicSeconds()
        let result = try runCommand(executable, arguments(serve.api, listen, upstream), timeout: timeout)
        let seconds = monotonicSeconds() - started
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let okLines = lines.filter { $0.hasPrefix("ok: ") }.count
        print("\(name): \(okLines) ok lines in \(String(format: "%.1f", seconds)) s, \(result.0.map { "\($0)" } ?? "still running")")
        // Every problem listed, then the transcript once.
        var problems: [String] = []
        if result.0 != .exited(0) { problems.append("the trial ended with \(result.0.map { "\($0)" } ?? "a timeout after \(timeout) s"), not exit 0") }
        problems += lines.filter { $0.hasPrefix("FAIL:") }
        var from = lines.startIndex
        for prefix in expected {
            guard let found = lines[from...].firstIndex(where: { $0.hasPrefix("ok: " + prefix) }) else {
                problems.append("no 'ok: \(prefix)' after line \(from + 1)")
                continue
            }
            from = found + 1
        }
        if !lines.contains("summary: \(okCount) ok, 0 failed") { problems.append("no 'summary: \(okCount) ok, 0 failed'") }
        if !serve.process.isRunning { problems.append("faultline serve ended during the trial") }
        let stopped = serve.process.stop(grace: 5)
        if stopped != .exited(0) { problems.append("faultline serve on SIGTERM: \(stopped.map { "\($0)" } ?? "still running"), not exit 0") }
        if !problems.isEmpty {
            XCTFail("""
                \(problems.joined(separator: "\n"))
                --- trial stdout (\(result.0.map { "\($0)" } ?? "still running") after \(String(format: "%.1f", seconds)) s)
                \(result.stdout)
                --- trial stderr
                \(result.stderr)
                --- faultline serve stderr
                \(serve.process.stderrText)
                """, file: file, line: line)
        }
    }

    func testToxiproxyPython() throws {
        let python = try requirePython("toxiproxy")
        try trial(python, { api, listen, upstream in
            [self.client("toxiproxy_python_trial.py"), "--api", api, "--listen-port", "\(listen)", "--upstream", upstream]
        }, expected: [
            "echo upstream on", "running() True; version()", "no leftover proxies", "create(): name=tp_python_trial",
            "create() of an existing name raises ProxyExists", "round trip through the proxy without toxics:",
            "add_toxic(latency 300 ms): toxic latency_downstream type=latency stream=downstream",
            "round trip with the latency toxic:",
            "duplicate toxic -> ProxyExists (409), unknown type -> InvalidToxic (400), missing toxic -> NotFound (404)",
            "proxies() lists tp_python_trial", "disable(): connect refused (ECONNREFUSED)", "enable(): connect works again",
            "with proxy.down(): refused inside, accepted after", "destroy_toxic(): toxics() empty",
            "reset(): disabled proxy re-enabled, toxics removed", "populate()", "destroy(): gone from proxies()",
        ], okCount: 17)
    }

    func testChaosToolkitToxiproxy() throws {
        let python = try requirePython("chaostoxi, chaoslib, logzero")
        try trial(python, { api, listen, upstream in
            [self.client("chaostoolkit_toxiproxy_trial.py"), "--api", api, "--listen-port", "\(listen)", "--upstream", upstream]
        }, expected: [
            "echo upstream on", "proxy_exist(ctk_trial) is False", "create_proxy(listen 127.0.0.1:",
            "proxy_exist True; get_proxy_attribute:", "round trip through the proxy without toxics:",
            "create_latency_toxic(lat, 300 ms) -> True", "disable_proxy -> True; connect refused (ECONNREFUSED)",
            "enable_proxy -> True; connect works", "modify_proxy(upstream_address=", "delete_toxic -> True; toxics=[]",
            "bandwidth, slow_close, timeout, slicer, limit_data", "reset -> True; disabled proxy re-enabled",
            "experiment run by chaoslib: status=completed deviated=False", "delete_proxy: proxy_exist False",
        ], okCount: 14)
    }

    func testToxiproxyCLI() throws {
        let cli = ProcessInfo.processInfo.environment["TOXIPROXY_CLI"]
            ?? "\(Self.packageRoot)/../shared/peers/toxiproxy-cli"
        guard FileManager.default.isExecutableFile(atPath: cli) else {
            throw XCTSkip("toxiproxy-cli is absent (\(cli)); set TOXIPROXY_CLI to run this test")
        }
        _ = try python()   // the script's echo server and round-trip probes
        // env(1) hands the binary to the script without changing the runner's own environment.
        try trial("/usr/bin/env", { api, listen, upstream in
            ["TOXIPROXY_CLI=\(cli)", "bash", self.client("toxiproxy_cli_trial.sh"), api, "\(listen)", upstream]
        }, expected: [
            "echo upstream on", "--version: toxiproxy-cli version 2.12.0", "inspect of a missing proxy:",
            "create: Created new proxy tp_cli_trial", "create of an existing name:", "list: tp_cli_trial",
            "no toxics: round trip", "toxic add latency: Added downstream latency toxic 'lat'",
            "latency toxic 300 ms, jitter 5 ms: round trip", "toxic add (no name, upstream, toxicity 0.5):",
            "toxic add of an existing name:", "toxic add of an unknown type:", "inspect: bandwidth_upstream",
            "list shows 3 toxics:", "toxic update:", "inspect after update (attributes merged):",
            "toxic update of a missing toxic:", "toggle (disable): Proxy tp_cli_trial is now disabled",
            "after toggle to disabled: connect refused (ECONNREFUSED)", "list shows disabled:",
            "toggle alias 'tog' (enable): Proxy tp_cli_trial is now enabled", "after toggle to enabled (toxics kept):",
            "toxic remove: Removed toxic 'lat'", "latency toxic removed: round trip", "toxic remove of a missing toxic:",
            "create alias 'new' (the same listen address again)", "delete: Deleted proxy tp_cli_trial",
            "after delete: connect refused (ECONNREFUSED)", "delete of a missing proxy:", "list after delete:",
        ], okCount: 54)
    }
}

/// A `faultline serve` child on `--api 127.0.0.1:0` (the port it logs, so no free-port race),
/// and requests to its API, each on a new connection as the Python clients send them.
struct ServeProcess {
    let process: ChildProcess
    let port: UInt16
    var api: String { "127.0.0.1:\(port)" }

    static func start(_ extra: [String] = []) throws -> ServeProcess {
        let process = try ChildProcess.spawn(try faultlineBinary(), ["serve", "--api", "127.0.0.1:0"] + extra)
        var port: UInt16?
        _ = waitUntil(timeout: 15) {
            port = apiPort(in: process.stderrText)
            return port != nil || !process.isRunning
        }
        guard let port else {
            let stderr = process.stderrText
            process.stop(grace: 1)
            throw ServeStartFailure(expected: "API listening on http://127.0.0.1:PORT", stderr: stderr)
        }
        return ServeProcess(process: process, port: port)
    }

    private static func apiPort(in log: String) -> UInt16? {
        guard let start = log.range(of: "API listening on http://127.0.0.1:")?.upperBound else { return nil }
        return UInt16(log[start...].prefix { $0.isNumber })
    }

    /// One request on a fresh connection; the reply with the seconds from connect to its end.
    func request(_ method: String, _ path: String, json body: String? = nil, timeout: Double = 10) throws -> APIReply {
        let started = monotonicSeconds()
        let connection = try RawHTTP(port: port, timeout: timeout)
        defer { connection.close() }
        var fields = ["User-Agent: faultline-tests", "Accept: */*"]
        if body != nil { fields.append("Content-Type: application/json") }
        if body == nil && (method == "POST" || method == "DELETE") { fields.append("Content-Length: 0") }
        try connection.send(httpRequest(method, path, fields, body: body))
        let response = try connection.response(timeout: timeout)
        return APIReply(method: method, path: path, status: response.status, text: response.text,
                        seconds: monotonicSeconds() - started)
    }
}

/// One answer of the control API.
struct APIReply: CustomStringConvertible {
    let method: String
    let path: String
    let status: Int
    let text: String
    let seconds: Double

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
    var object: [String: Any] { (json as? [String: Any]) ?? [:] }
    var list: [[String: Any]] { (json as? [[String: Any]]) ?? [] }
    var milliseconds: String { String(format: "%.1f ms", seconds * 1000) }
    var description: String { "\(method) \(path) → \(status) in \(milliseconds): \(text.prefix(400))" }
}

/// A failure, not a skip: `faultline serve` is what these tests exist to exercise.
struct ServeStartFailure: Error, CustomStringConvertible {
    let expected: String
    let stderr: String
    var description: String { "faultline serve did not log '\(expected)'; stderr:\n\(stderr)" }
}
