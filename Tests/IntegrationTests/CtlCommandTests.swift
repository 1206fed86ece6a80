import Foundation
import Glibc
import XCTest

/// `faultline ctl` against a real `faultline serve`: every subcommand's output lines and exit
/// status, the API's refusals (exit 1, `HTTP N: message`), bad input and an API that is not
/// there (exit 2), the bearer token, the event stream and scenarios.
final class CtlCommandTests: ScenarioRunCase {
    /// A `faultline serve` child and its API address.
    struct Serve {
        let process: ChildProcess
        let api: String
    }

    /// What one `faultline ctl` run printed and how it ended.
    struct CtlRun: CustomStringConvertible {
        let termination: Termination?
        let stdout: String
        let stderr: String
        var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
        var description: String { "\(termination.map { "\($0)" } ?? "still running")\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    }

    // MARK: proxies and toxics

    func testProxyAndToxicCommandsPrintAsToxiproxyCLI() throws {
        let serve = try startServe()
        let (listen, upstream, other) = (try freePort(), try freePort(), try freePort())
        try expect(["ctl", "list", "--api", serve.api], stdout: [])
        try expect(["ctl", "create", "web", "--api", serve.api, "-l", "127.0.0.1:\(listen)", "-u", "127.0.0.1:\(upstream)"],
                   stdout: ["Created new proxy web listening on 127.0.0.1:\(listen)"])
        // Options before the subcommand, and create's aliases.
        try expect(["ctl", "--api", serve.api, "new", "api", "--listen", "127.0.0.1:\(other)",
                    "--upstream", "127.0.0.1:\(upstream)", "--protocol", "http"],
                   stdout: ["Created new proxy api listening on 127.0.0.1:\(other)"])
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "latency", "-a", "latency=300", "-a", "jitter=5"],
                   stdout: ["Added downstream latency toxic 'latency_downstream' on proxy 'web'"])
        try expect(["ctl", "t", "a", "web", "--api", serve.api, "-t", "bandwidth", "-u", "-n", "bw", "--tox", "0.5", "-a", "rate=100"],
                   stdout: ["Added upstream bandwidth toxic 'bw' on proxy 'web'"])
        try expect(["ctl", "toxic", "add", "api", "--api", serve.api, "--type", "http.respond", "--toxic-name", "gone",
                    "--attribute", "status=404", "--attribute", "path=/api/v2/*"],
                   stdout: ["Added downstream http.respond toxic 'gone' on proxy 'api'"])
        try expect(["ctl", "ls", "--api", serve.api], stdout: [
            "api\t127.0.0.1:\(other)\t127.0.0.1:\(upstream)\tenabled\t1\thttp",
            "web\t127.0.0.1:\(listen)\t127.0.0.1:\(upstream)\tenabled\t2\ttcp",
        ])
        try expect(["ctl", "inspect", "web", "--api", serve.api], stdout: [
            "web\t127.0.0.1:\(listen)\t127.0.0.1:\(upstream)\tenabled\t2\ttcp",
            "bw\ttype=bandwidth\tstream=upstream\ttoxicity=0.50\tattributes=[\trate=100\t]",
            "latency_downstream\ttype=latency\tstream=downstream\ttoxicity=1.00\tattributes=[\tjitter=5\tlatency=300\t]",
        ])
        try expect(["ctl", "i", "api", "--api", serve.api], stdout: [
            "api\t127.0.0.1:\(other)\t127.0.0.1:\(upstream)\tenabled\t1\thttp",
            "gone\ttype=http.respond\tstream=downstream\ttoxicity=1.00\tattributes=[\tpath=/api/v2/*\tstatus=404\t]",
        ])
        // update merges attributes (jitter kept) and leaves toxicity alone unless given.
        try expect(["ctl", "toxic", "update", "web", "--api", serve.api, "-n", "latency_downstream", "-a", "latency=250"],
                   stdout: ["Updated toxic 'latency_downstream' on proxy 'web'"])
        try expect(["ctl", "toxic", "u", "web", "--api", serve.api, "--toxicName", "bw", "--toxicity", "0.9"],
                   stdout: ["Updated toxic 'bw' on proxy 'web'"])
        try expect(["ctl", "inspect", "web", "--api", serve.api], stdout: [
            "web\t127.0.0.1:\(listen)\t127.0.0.1:\(upstream)\tenabled\t2\ttcp",
            "bw\ttype=bandwidth\tstream=upstream\ttoxicity=0.90\tattributes=[\trate=100\t]",
            "latency_downstream\ttype=latency\tstream=downstream\ttoxicity=1.00\tattributes=[\tjitter=5\tlatency=250\t]",
        ])
        // --json: the API's own answer.
        let listed = try run(["ctl", "list", "--json", "--api", serve.api])
        XCTAssertEqual(listed.termination, .exited(0), "\(listed)")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any], "\(listed)")
        XCTAssertEqual(Set(object.keys), ["api", "web"])
        XCTAssertEqual((object["web"] as? [String: Any])?["listen"] as? String, "127.0.0.1:\(listen)")
        let inspected = try run(["ctl", "inspect", "api", "--json", "--api", serve.api])
        let proxy = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(proxy["protocol"] as? String, "http")

        // toggle closes the listener, toggling back opens it on the same port.
        try expect(["ctl", "toggle", "web", "--api", serve.api], stdout: ["Proxy web is now disabled"])
        XCTAssertEqual(ProbeOutcome.probe(port: listen, timeout: 2), .refused)
        try expect(["ctl", "tog", "web", "--api", serve.api], stdout: ["Proxy web is now enabled"])
        XCTAssertNoThrow(Sock.close(try Sock.connect(port: listen, timeout: 2)))

        try expect(["ctl", "toxic", "remove", "web", "--api", serve.api, "-n", "bw"], stdout: ["Removed toxic 'bw' on proxy 'web'"])
        try expect(["ctl", "toxic", "d", "web", "--api", serve.api, "-n", "latency_downstream"],
                   stdout: ["Removed toxic 'latency_downstream' on proxy 'web'"])
        // reset: every proxy enabled, every toxic gone; the proxies stay.
        try expect(["ctl", "toggle", "web", "--api", serve.api], stdout: ["Proxy web is now disabled"])
        try expect(["ctl", "reset", "--api", serve.api], stdout: ["Reset: every proxy enabled, every toxic removed"])
        try expect(["ctl", "list", "--api", serve.api], stdout: [
            "api\t127.0.0.1:\(other)\t127.0.0.1:\(upstream)\tenabled\t0\thttp",
            "web\t127.0.0.1:\(listen)\t127.0.0.1:\(upstream)\tenabled\t0\ttcp",
        ])
        try expect(["ctl", "delete", "web", "--api", serve.api], stdout: ["Deleted proxy web"])
        try expect(["ctl", "d", "api", "--api", serve.api], stdout: ["Deleted proxy api"])
        try expect(["ctl", "list", "--api", serve.api], stdout: [])

        let metrics = try run(["ctl", "metrics", "--api", serve.api])
        XCTAssertEqual(metrics.termination, .exited(0), "\(metrics)")
        XCTAssertTrue(metrics.lines.contains("# TYPE faultline_proxy_enabled gauge"), "\(metrics)")
        XCTAssertEqual(serve.process.stop(grace: 5), .exited(0))
    }

    // MARK: errors

    func testRefusalsExitOneWithTheAPIMessage() throws {
        let serve = try startServe()
        let (listen, upstream) = (try freePort(), try freePort())
        try expect(["ctl", "inspect", "nope", "--api", serve.api], status: 1, stderr: ["faultline: HTTP 404: proxy not found"])
        try expect(["ctl", "toggle", "nope", "--api", serve.api], status: 1, stderr: ["faultline: HTTP 404: proxy not found"])
        try expect(["ctl", "toxic", "add", "nope", "--api", serve.api, "-t", "latency"], status: 1,
                   stderr: ["faultline: HTTP 404: proxy not found"])
        try expect(["ctl", "create", "web", "--api", serve.api, "-l", "127.0.0.1:\(listen)", "-u", "127.0.0.1:\(upstream)"],
                   stdout: ["Created new proxy web listening on 127.0.0.1:\(listen)"])
        try expect(["ctl", "create", "web", "--api", serve.api, "-l", "127.0.0.1:\(listen)", "-u", "127.0.0.1:\(upstream)"],
                   status: 1, stderr: ["faultline: HTTP 409: proxy already exists"])
        try expect(["ctl", "create", "bad", "--api", serve.api, "-u", "nohost"], status: 1,
                   stderr: ["faultline: HTTP 400: bad request body: upstream: invalid address 'nohost': expected host:port (IPv6 as [::1]:port)"])
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "no_such_toxic_type"], status: 1,
                   stderr: ["faultline: HTTP 400: invalid toxic type"])
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "latency", "-a", "latency=abc"], status: 1,
                   stderr: ["faultline: HTTP 400: bad request body: attributes.latency must be a whole number, not text"])
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "latency", "-a", "latency=1"],
                   stdout: ["Added downstream latency toxic 'latency_downstream' on proxy 'web'"])
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "latency"], status: 1,
                   stderr: ["faultline: HTTP 409: toxic already exists"])
        try expect(["ctl", "toxic", "remove", "web", "--api", serve.api, "-n", "nope"], status: 1,
                   stderr: ["faultline: HTTP 404: toxic not found"])
        try expect(["ctl", "toxic", "update", "web", "--api", serve.api, "-n", "nope", "-a", "latency=2"], status: 1,
                   stderr: ["faultline: HTTP 404: toxic not found"])
        try expect(["ctl", "events", "--api", serve.api, "--kind", "faultFird"], status: 1,
                   stderrPrefix: "faultline: HTTP 400: kind: 'faultFird' is not an event kind (did you mean 'faultFired'?)")

        // Bad input never reaches the API: exit 2.
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "latency", "-a", "latency"], status: 2,
                   stderr: ["faultline: --attribute: 'latency' is not key=value, e.g. -a latency=300"])
        try expect(["ctl", "toxic", "update", "web", "--api", serve.api, "-n", "latency_downstream"], status: 2,
                   stderr: ["faultline: toxic update: nothing to change: give --attribute key=value or --toxicity"])
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "latency", "-u", "-d"], status: 2,
                   stderr: ["faultline: --stream: give one of --stream, --upstream (-u) and --downstream (-d), not 2"])
        try expect(["ctl", "toxic", "add", "web", "--api", serve.api, "-t", "latency", "--toxicity", "half"], status: 2,
                   stderr: ["faultline: --toxicity: 'half' is not a number from 0 to 1, e.g. 0.5"])
        try expect(["ctl", "list", "--api", "127.0.0.1"], status: 2,
                   stderr: ["faultline: --api: invalid address '127.0.0.1': expected host:port (IPv6 as [::1]:port)"])
        try expect(["ctl", "list", "--api", serve.api, "--timeout", "0s"], status: 2,
                   stderr: ["faultline: --timeout: '0s' is not above 0, e.g. 500ms or 10s"])
        XCTAssertEqual(serve.process.stop(grace: 5), .exited(0))
    }

    func testAPIDownOrSilentExitsTwo() throws {
        let port = try freePort()
        try expect(["ctl", "list", "--api", "127.0.0.1:\(port)"], status: 2, stderr: [
            "faultline: the control API is not running at 127.0.0.1:\(port) (connection refused); "
                + "start it with: faultline serve --api 127.0.0.1:\(port)",
        ])
        // A listener that accepts and never answers: the read timeout.
        let (silent, silentPort) = try Sock.listen(port: try freePort())
        defer { Sock.close(silent) }
        let started = monotonicSeconds()
        try expect(["ctl", "list", "--api", "127.0.0.1:\(silentPort)", "--timeout", "300ms"], status: 2,
                   stderr: ["faultline: cannot reach the control API at 127.0.0.1:\(silentPort): no answer within 0.3 s"])
        XCTAssertLessThan(monotonicSeconds() - started, 5)
    }

    func testBearerToken() throws {
        let token = "ctl-test-token-0123456789"
        let serve = try startServe(["--token", token])
        try expect(["ctl", "list", "--api", serve.api], status: 1, stderr: [
            "faultline: HTTP 401: missing or wrong bearer token: send Authorization: Bearer TOKEN (pass --token or set FAULTLINE_API_TOKEN)",
        ])
        try expect(["ctl", "list", "--api", serve.api, "--token", "wrong-token-0123456789"], status: 1, stderr: [
            "faultline: HTTP 401: missing or wrong bearer token: send Authorization: Bearer TOKEN (the token given is not the API's)",
        ])
        try expect(["ctl", "list", "--api", serve.api, "--token", token], stdout: [])
        // FAULTLINE_API (also as a URL) and FAULTLINE_API_TOKEN stand in for the flags.
        try expect(["FAULTLINE_API=http://\(serve.api)/", "FAULTLINE_API_TOKEN=\(token)", "ctl", "list"], stdout: [])
        try expect(["FAULTLINE_API=\(serve.api)", "ctl", "list"], status: 1,
                   stderrPrefix: "faultline: HTTP 401: missing or wrong bearer token")
        XCTAssertEqual(serve.process.stop(grace: 5), .exited(0))
    }

    func testIPv6Address() throws {
        let port = try freePort()
        guard let (probe, _) = try? Sock.listen(host: "::1", port: port) else { throw XCTSkip("::1 cannot be bound here") }
        Sock.close(probe)
        let serve = try startServe(api: "[::1]:\(port)")
        try expect(["ctl", "list", "--api", serve.api], stdout: [])
        XCTAssertEqual(serve.process.stop(grace: 5), .exited(0))
    }

    // MARK: events

    func testEventsStreamWhileTrafficFlows() throws {
        let serve = try startServe()
        let (listen, upstream) = (try freePort(), try freePort())
        try expect(["ctl", "create", "web", "--api", serve.api, "-l", "127.0.0.1:\(listen)", "-u", "127.0.0.1:\(upstream)"],
                   stdout: ["Created new proxy web listening on 127.0.0.1:\(listen)"])
        let filtered = try ChildProcess.spawn(try faultlineBinary(), ["ctl", "events", "--api", serve.api, "--proxy", "web",
                                                                      "--kind", "connectionOpened", "--kind", "connectionClosed"])
        let everything = try ChildProcess.spawn(try faultlineBinary(), ["ctl", "events", "--api", serve.api])
        // Connections until both streams have shown some (a stream starts a moment after spawn).
        let flowed = waitUntil(timeout: 15) {
            if let fd = try? Sock.connect(port: listen, timeout: 2) {
                _ = Sock.ending(fd)
                Sock.close(fd)
            }
            return filtered.stdoutText.split(separator: "\n").count >= 4 && everything.stdoutText.split(separator: "\n").count >= 3
        }
        XCTAssertTrue(flowed, "filtered:\n\(filtered.stdoutText)\(filtered.stderrText)\nall:\n\(everything.stdoutText)\(everything.stderrText)")
        for line in filtered.stdoutText.split(separator: "\n") {
            let event = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            XCTAssertEqual(event["proxy"] as? String, "web", String(line))
            XCTAssertTrue(["connectionOpened", "connectionClosed"].contains(event["kind"] as? String ?? ""), String(line))
        }
        let kinds = everything.stdoutText.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["kind"] as? String
        }
        XCTAssertTrue(kinds.contains("upstreamFailed"), "\(kinds)")
        XCTAssertEqual(kinds.count, everything.stdoutText.split(separator: "\n").count, "every line is one JSON event")
        // Stopped by a signal, as a user stops it.
        filtered.signal(SIGINT)
        XCTAssertEqual(filtered.waitForExit(timeout: 5), .signaled(SIGINT))
        // The server stopping ends the stream: exit 0.
        XCTAssertEqual(serve.process.stop(grace: 5), .exited(0))
        XCTAssertEqual(everything.waitForExit(timeout: 5), .exited(0), everything.stderrText)
    }

    // MARK: scenarios

    func testScenarioStartStatusStop() throws {
        let serve = try startServe()
        let (listen, upstream) = (try freePort(), try freePort())
        try expect(["ctl", "scenario", "status", "--api", serve.api], status: 1,
                   stderr: ["faultline: HTTP 404: no scenario has been started"])
        // A broken file: every error as FILE:line:col, the same lines faultline check prints.
        let broken = try writeScenario("broken", """
            name: broken
            proxies:
              api:
                listen: 127.0.0.1:\(listen)
                upstreem: 127.0.0.1:\(upstream)
            timeline:
              - phase: first
                for: 2x
            """)
        let check = try runFaultline(["check", broken], in: folder, timeout: 30)
        XCTAssertEqual(check.0, .exited(2))
        let checkLines = check.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(checkLines.count, 3, check.stderr)
        try expect(["ctl", "scenario", "start", broken, "--api", serve.api], status: 2, stderr: checkLines)
        try expect(["ctl", "scenario", "start", "\(folder)/missing.yaml", "--api", serve.api], status: 2,
                   stderr: ["faultline: \(folder)/missing.yaml: no such file"])

        let good = try writeScenario("quiet", """
            name: quiet
            seed: 42
            proxies:
              api:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(upstream)
            timeline:
              - phase: first
                for: 30s
              - phase: second
                for: 30s
            expect:
              - max_connection_attempts: 100
              - during: second
                max_connection_attempts: 100
            """)
        let started = try run(["ctl", "scenario", "start", good, "--api", serve.api])
        XCTAssertEqual(started.termination, .exited(0), "\(started)")
        assertLines(started.lines, [
            #"scenario quiet: running, phase first, 0\.\d{3} s of 60\.000 s, seed 42"#,
            #"PASS  max_connection_attempts: 100 — max_connection_attempts 0 ≤ 100 \(so far\)"#,
            #"PENDING max_connection_attempts: 100 \(during: second\) — phase second has not started"#,
        ], "\(started)")
        try expect(["ctl", "scenario", "start", good, "--api", serve.api], status: 1, stderr: [
            "faultline: HTTP 409: scenario quiet is running; DELETE /scenarios/current stops it (or: faultline ctl scenario stop)",
        ])
        // Its proxy is listed while it plays.
        try expect(["ctl", "list", "--api", serve.api], stdout: ["api\t127.0.0.1:\(listen)\t127.0.0.1:\(upstream)\tenabled\t0\ttcp"])
        let status = try run(["ctl", "scenario", "status", "--api", serve.api])
        XCTAssertEqual(status.termination, .exited(0), "\(status)")
        assertLines(status.lines, [
            #"scenario quiet: running, phase first, \d+\.\d{3} s of 60\.000 s, seed 42"#,
            #"PASS  max_connection_attempts: 100 — max_connection_attempts 0 ≤ 100 \(so far\)"#,
            #"PENDING max_connection_attempts: 100 \(during: second\) — phase second has not started"#,
        ], "\(status)")
        let json = try run(["ctl", "scenario", "status", "--json", "--api", serve.api])
        let state = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
        XCTAssertEqual(state["state"] as? String, "running")
        XCTAssertEqual(state["phase"] as? String, "first")

        let stopped = try run(["ctl", "scenario", "stop", "--api", serve.api])
        XCTAssertEqual(stopped.termination, .exited(1), "a stopped scenario exits 1, as an interrupted run does: \(stopped)")
        // Stopped in its first phase: the second phase's expectation cannot be judged.
        assertLines(stopped.lines, [
            #"scenario quiet: stopped, \d+\.\d{3} s of 60\.000 s, seed 42"#,
            #"PASS  max_connection_attempts: 100 — max_connection_attempts 0 ≤ 100"#,
            #"ERROR max_connection_attempts: 100 \(during: second\) — phase 'second' never started"#,
            #"quiet: 1 of 2 expectations could not be judged"#,
        ], "\(stopped)")
        try expect(["ctl", "scenario", "stop", "--api", serve.api], status: 1, stderr: ["faultline: HTTP 404: no scenario is running"])
        let after = try run(["ctl", "scenario", "status", "--api", serve.api])
        XCTAssertEqual(after.lines, stopped.lines, "the last verdict stays readable")
        XCTAssertEqual(after.termination, .exited(1), "\(after)")

        // --wait: a CI step starts a scenario and gets its verdict as an exit status.
        let short = try writeScenario("short", """
            name: short
            seed: 7
            proxies:
              api:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(upstream)
            timeline:
              - phase: only
                for: 1s
            expect:
              - max_connection_attempts: 100
            """)
        let waited = try run(["ctl", "scenario", "start", short, "--wait", "--api", serve.api])
        XCTAssertEqual(waited.termination, .exited(0), "\(waited)")
        assertLines(waited.lines, [
            #"scenario short: passed, 1\.\d{3} s of 1\.000 s, seed 7"#,
            #"PASS  max_connection_attempts: 100 — max_connection_attempts 0 ≤ 100"#,
            #"short: the expectation held"#,
        ], "\(waited)")
        XCTAssertEqual(serve.process.stop(grace: 5), .exited(0))
    }

    // MARK: helpers

    /// Starts `faultline serve --api 127.0.0.1:PORT ARGS` and waits until it accepts.
    private func startServe(_ arguments: [String] = [], api: String? = nil) throws -> Serve {
        let address = try api ?? "127.0.0.1:\(freePort())"
        let process = try ChildProcess.spawn(try faultlineBinary(), ["serve", "--api", address] + arguments)
        let ready = "API listening on http://\(address)"
        guard process.waitForStderr(containing: ready, timeout: 15) else {
            process.stop(grace: 1)
            throw CtlServeStartFailure(expected: ready, stderr: process.stderrText)
        }
        return Serve(process: process, api: address)
    }

    /// Runs `faultline ARGS` (leading `NAME=value` words become its environment, through env).
    private func run(_ arguments: [String]) throws -> CtlRun {
        let assignments = arguments.prefix { $0.contains("=") && !$0.hasPrefix("-") }
        let rest = Array(arguments.dropFirst(assignments.count))
        let result = assignments.isEmpty
            ? try runCommand(try faultlineBinary(), rest, timeout: 30)
            : try runCommand("/usr/bin/env", Array(assignments) + [try faultlineBinary()] + rest, timeout: 30)
        return CtlRun(termination: result.0, stdout: result.stdout, stderr: result.stderr)
    }

    /// Runs `faultline ARGS` and asserts its exit status and exact stdout and stderr lines
    /// (or only stderr's first line's start).
    private func expect(_ arguments: [String], status: Int32 = 0, stdout: [String]? = nil, stderr: [String]? = nil,
                        stderrPrefix: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try run(arguments)
        let context = "faultline \(arguments.joined(separator: " ")) → \(result)"
        XCTAssertEqual(result.termination, .exited(status), context, file: file, line: line)
        XCTAssertEqual(result.lines, stdout ?? [], context, file: file, line: line)
        if let stderr {
            XCTAssertEqual(result.stderr.split(separator: "\n").map(String.init), stderr, context, file: file, line: line)
        } else if let stderrPrefix {
            XCTAssertTrue(result.stderr.hasPrefix(stderrPrefix), context, file: file, line: line)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, context, file: file, line: line)
        } else {
            XCTAssertEqual(result.stderr, "", context, file: file, line: line)
        }
    }

    /// Asserts each line matches its anchored regular expression.
    private func assertLines(_ lines: [String], _ patterns: [String], _ context: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(lines.count, patterns.count, context, file: file, line: line)
        for (text, pattern) in zip(lines, patterns) {
            XCTAssertNotNil(text.range(of: "^\(pattern)$", options: .regularExpression), "'\(text)' !~ /\(pattern)/\n\(context)",
                            file: file, line: line)
        }
    }

    /// A port of this suite's range (24630–24689 on 127.0.0.1; APIClientTests use 24690–24699) that nothing listens on now.
    private func freePort() throws -> UInt16 {
        for _ in 0..<60 {
            Self.nextPort = Self.nextPort >= 24689 ? 24630 : Self.nextPort + 1
            if let (fd, _) = try? Sock.listen(port: Self.nextPort) {
                Sock.close(fd)
                return Self.nextPort
            }
        }
        throw SystemCallFailure(call: "bind (every port of 24630-24689 is taken)", code: EADDRINUSE)
    }

    nonisolated(unsafe) private static var nextPort: UInt16 = 24629
}

/// `faultline serve` never said it listens.
private struct CtlServeStartFailure: Error, CustomStringConvertible {
    let expected: String
    let stderr: String
    var description: String { "faultline serve did not log '\(expected)'; stderr:\n\(stderr)" }
}
