import Foundation
import FoundationXML
import Glibc
import XCTest

/// One verdict line of `faultline run`: `PASS  label — figure` (the word padded to 5).
struct VerdictLine: Equatable, CustomStringConvertible {
    let word: String
    let label: String
    let figure: String

    var description: String { "\(word) \(label) — \(figure)" }

    /// Parses a stdout line; nil for the summary and `command:` lines.
    init?(_ line: Substring) {
        guard let word = ["PASS", "FAIL", "ERROR"].first(where: { line.hasPrefix($0 + " ") }),
              let dash = line.range(of: " — ") else { return nil }
        self.word = word
        label = line[line.index(line.startIndex, offsetBy: word.count)..<dash.lowerBound]
            .trimmingCharacters(in: .whitespaces)
        figure = String(line[dash.upperBound...])
    }
}

/// What one `faultline run` did, as its user sees it.
struct ScenarioRun {
    let termination: Termination?
    let stdout: String
    let stderr: String
    /// Wall time from spawn to exit, as the test saw it.
    let seconds: Double

    var verdicts: [VerdictLine] { stdout.split(separator: "\n").compactMap(VerdictLine.init) }

    /// Everything, for failure messages.
    var transcript: String { "\(termination.map { "\($0)" } ?? "still running") after \(seconds) s\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

/// Scenario-runner tests: a temp folder for YAML and JUnit files, a real redis-server as the
/// upstream when a test asks for one, the client scripts, and verdict assertions.
class ScenarioRunCase: IntegrationCase {
    private(set) var folder = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        folder = NSTemporaryDirectory() + "faultline-scenario-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        // Keep the YAML and JUnit of a failed test beside the kept child output.
        if (testRun?.totalFailureCount ?? 1) == 0 { try? FileManager.default.removeItem(atPath: folder) }
        super.tearDown()
    }

    static let packageRoot = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `Tests/clients/NAME`.
    func client(_ name: String) -> String { "\(Self.packageRoot)/Tests/clients/\(name)" }

    /// Starts a real redis-server on a free port (stopped by tearDown, by PID) and returns the
    /// port; skips when redis-server or the Python client libraries are missing.
    func startRedis() throws -> UInt16 {
        guard let server = Self.which("redis-server") else {
            throw XCTSkip("redis-server is not installed (apt-get install redis-server)")
        }
        let imports = try runCommand(try python(), ["-c", "import redis, pybreaker"], timeout: 30)
        guard imports.0 == .exited(0) else {
            throw XCTSkip("python3 lacks redis/pybreaker (pip install -r Tests/clients/requirements.txt): \(imports.stderr)")
        }
        let port = try Sock.freePort()
        let process = try ChildProcess.spawn(server, [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--protected-mode", "yes",
        ])
        guard waitUntil(timeout: 10, { Self.answersPing(port: port) }) else {
            throw RedisStartFailure(port: port, output: process.stdoutText + process.stderrText)
        }
        return port
    }

    func python() throws -> String {
        guard let path = Self.which("python3") else { throw XCTSkip("python3 is not installed") }
        return path
    }

    /// Writes `yaml` as `NAME.yaml` in the test's folder and returns its path.
    func writeScenario(_ name: String, _ yaml: String) throws -> String {
        let path = "\(folder)/\(name).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// One phase of `length` in front of a port nothing listens on, and one expectation that
    /// holds when nobody connects: for tests of how a run starts and ends.
    func quietScenario(_ length: String, name: String = "quiet") throws -> String {
        try writeScenario(name, """
            name: \(name)
            proxies:
              api:
                listen: 127.0.0.1:\(try Sock.freePort())
                upstream: 127.0.0.1:\(try Sock.freePort())
            timeline:
              - phase: only
                for: \(length)
            expect:
              - max_connection_attempts: 100
            """)
    }

    /// Runs `faultline run SCENARIO ARGS [-- COMMAND]` to its end (killed after `timeout`), in
    /// `directory` when given (a TLS scenario's CA is made there).
    func run(_ scenario: String, _ arguments: [String] = [], command: [String] = [], in directory: String? = nil,
             timeout: Double = 60) throws -> ScenarioRun {
        let started = monotonicSeconds()
        let runArguments = ["run", scenario] + arguments + (command.isEmpty ? [] : ["--"] + command)
        let process = try directory.map { try spawnFaultline(runArguments, in: $0) }
            ?? ChildProcess.spawn(try faultlineBinary(), runArguments)
        let ended = process.waitForExit(timeout: timeout) ?? process.stop(grace: 1)
        let run = ScenarioRun(termination: ended, stdout: process.stdoutText, stderr: process.stderrText,
                              seconds: monotonicSeconds() - started)
        // The verdicts in the test log: the figures show how far a run was from its limits.
        let seconds = String(format: "%.1f", run.seconds)
        print("\(name): faultline run \((scenario as NSString).lastPathComponent), \(seconds) s, \(ended.map { "\($0)" } ?? "?")")
        run.verdicts.forEach { print("  \($0.word) \($0.label) — \($0.figure)") }
        return run
    }

    /// Asserts the verdict for `label` says `word` and its figure matches `pattern` (an
    /// anchored regular expression); returns the figure's capture groups.
    @discardableResult
    func assertVerdict(_ run: ScenarioRun, _ word: String, _ label: String, figure pattern: String,
                       file: StaticString = #filePath, line: UInt = #line) -> [String] {
        guard let verdict = run.verdicts.first(where: { $0.label == label }) else {
            XCTFail("no verdict for '\(label)'\n\(run.transcript)", file: file, line: line)
            return []
        }
        XCTAssertEqual(verdict.word, word, "\(verdict)\n\(run.transcript)", file: file, line: line)
        let regex = try! NSRegularExpression(pattern: "^(?:\(pattern))$")
        let text = verdict.figure as NSString
        guard let match = regex.firstMatch(in: verdict.figure, range: NSRange(location: 0, length: text.length)) else {
            XCTFail("figure '\(verdict.figure)' does not match /\(pattern)/", file: file, line: line)
            return []
        }
        return (1..<match.numberOfRanges).map { match.range(at: $0).location == NSNotFound ? "" : text.substring(with: match.range(at: $0)) }
    }

    /// Asserts the JUnit file holds one testcase per verdict line, in order, named by its
    /// label, with a <failure> exactly for the FAIL ones, then one per run check the run
    /// printed (`command: …`, `run: …`), failed when it says so, and counts that agree.
    func assertJUnit(_ path: String, _ run: ScenarioRun, expectations: Int,
                     file: StaticString = #filePath, line: UInt = #line) {
        let verdicts = run.verdicts
        XCTAssertEqual(verdicts.count, expectations, "verdict lines\n\(run.transcript)", file: file, line: line)
        guard let data = FileManager.default.contents(atPath: path) else {
            return XCTFail("--junit did not write \(path)\n\(run.transcript)", file: file, line: line)
        }
        do {
            let document = try XMLDocument(data: data)
            let cases = try document.nodes(forXPath: "//testsuite/testcase").compactMap { $0 as? XMLElement }
            let checks = run.stdout.split(separator: "\n").filter { $0.hasPrefix("command: ") || $0.hasPrefix("run: ") }
            XCTAssertEqual(cases.count, expectations + checks.count, "testcases in \(path)", file: file, line: line)
            for (element, check) in zip(cases.dropFirst(expectations), checks) {
                XCTAssertEqual(element.attribute(forName: "name")?.stringValue, check.prefix { $0 != ":" }.description,
                               file: file, line: line)
                XCTAssertEqual(element.elements(forName: "failure").count, check.hasSuffix("(the run fails)") ? 1 : 0,
                               "<failure> of \(check)", file: file, line: line)
            }
            for (element, verdict) in zip(cases, verdicts) {
                XCTAssertEqual(element.attribute(forName: "name")?.stringValue, verdict.label, file: file, line: line)
                let failures = element.elements(forName: "failure")
                XCTAssertEqual(failures.count, verdict.word == "FAIL" ? 1 : 0, "<failure> of \(verdict)", file: file, line: line)
                if let message = failures.first?.attribute(forName: "message")?.stringValue {
                    XCTAssertEqual(message, verdict.figure, file: file, line: line)
                }
            }
            let failed = verdicts.filter { $0.word == "FAIL" }.count + checks.filter { $0.hasSuffix("(the run fails)") }.count
            let suite = try document.nodes(forXPath: "//testsuite").first as? XMLElement
            XCTAssertEqual(suite?.attribute(forName: "tests")?.stringValue, "\(expectations + checks.count)",
                           file: file, line: line)
            XCTAssertEqual(suite?.attribute(forName: "failures")?.stringValue, "\(failed)", file: file, line: line)
        } catch {
            XCTFail("\(path) is not XML: \(error)\n\(String(decoding: data, as: UTF8.self))", file: file, line: line)
        }
    }

    /// `tool` on PATH (first), else in the usual folders: python3 must be the one the
    /// client libraries were installed for, e.g. a pyenv shim ahead of /usr/bin.
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        return (path + ["/usr/bin", "/usr/local/bin", "/bin"]).map { "\($0)/\(tool)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether a Redis on `port` answers PING with +PONG (readiness probe).
    private static func answersPing(port: UInt16) -> Bool {
        guard let fd = try? Sock.connect(port: port, timeout: 1) else { return false }
        defer { Sock.close(fd) }
        guard (try? Sock.sendAll(fd, Array("PING\r\n".utf8))) != nil,
              let reply = try? Sock.readExactly(fd, 7) else { return false }
        return reply == Array("+PONG\r\n".utf8)
    }
}

/// Regular-expression pieces for verdict figures.
enum FigureText {
    /// A measured duration as verdicts print it: `250ms`, `2.31s`, `2.5s`.
    static let measured = #"\d+ms|\d+\.\d{1,2}s"#
    /// A whole count, captured.
    static let count = #"(\d+)"#
    /// A rate with one decimal, captured: `124.0`.
    static let rate = #"(\d+\.\d)"#
}
