import Foundation
import FoundationXML
import Glibc
import XCTest

/// What a new user of `faultline run` found: an empty --junit path accepted until the end, a
/// stale JUnit file left by a run that exited 2, a silent stop after Ctrl-C, a log that
/// disagreed with the verdict on how the command ended, `--kill-after -1s` read as a flag, and
/// a help that gave two defaults for --log-level.
final class RunUserReportTests: ScenarioRunCase {
    /// The single testcase of an exit-2 JUnit file: its name and its `<error message>`.
    private func errorCase(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> (name: String?, message: String?) {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: path), "no \(path)", file: file, line: line)
        let document = try XMLDocument(data: data)
        let cases = try document.nodes(forXPath: "//testsuite/testcase").compactMap { $0 as? XMLElement }
        XCTAssertEqual(cases.count, 1, String(decoding: data, as: UTF8.self), file: file, line: line)
        let suite = try document.nodes(forXPath: "//testsuite").first as? XMLElement
        XCTAssertEqual(suite?.attribute(forName: "errors")?.stringValue, "1", file: file, line: line)
        XCTAssertEqual(suite?.attribute(forName: "tests")?.stringValue, "1", file: file, line: line)
        let error = cases.first?.elements(forName: "error").first
        return (cases.first?.attribute(forName: "name")?.stringValue, error?.attribute(forName: "message")?.stringValue)
    }

    private func writeStale(_ path: String) throws {
        try #"<testsuites name="faultline" tests="1" failures="0" errors="0"/>"#.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `--junit ''` used to pass the check (the folder of '' is '.') and fail after the whole run.
    func testAnEmptyJUnitPathExitsTwoBeforeTheRun() throws {
        let ran = "\(folder)/command-ran"
        let run = try run(try quietScenario("30s"), ["--junit", ""], command: ["/usr/bin/touch", ran], timeout: 10)
        XCTAssertEqual(run.termination, .exited(2), run.transcript)
        XCTAssertEqual(run.stderr, "faultline: --junit: cannot write '': an empty path names no file\n", run.transcript)
        XCTAssertEqual(run.stdout, "")
        XCTAssertLessThan(run.seconds, 5, "the check should come before the 30 s run")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ran), "the command ran")
    }

    /// A scenario with errors exits 2; the JUnit file from an earlier run is replaced by one
    /// error naming them, so CI never reads the old verdict.
    func testAScenarioWithErrorsReplacesAStaleJUnitFileWithAnError() throws {
        let junit = "\(folder)/stale.xml"
        try writeStale(junit)
        let scenario = try writeScenario("bad", """
            name: bad
            proxies:
              api:
                listen: 127.0.0.1:\(try Sock.freePort())
                upstream: 127.0.0.1:\(try Sock.freePort())
            timeline:
              - phase: only
                for: soon
            """)
        let run = try run(scenario, ["--junit", junit], command: ["/bin/true"], timeout: 10)
        XCTAssertEqual(run.termination, .exited(2), run.transcript)
        XCTAssertTrue(run.stderr.hasPrefix("\(scenario):8:"), run.transcript)
        let (name, message) = try errorCase(junit)
        XCTAssertEqual(name, "run")
        XCTAssertEqual(message, run.stderr.trimmingCharacters(in: .newlines))
    }

    /// A command that cannot start exits 2 and replaces the stale JUnit file with that reason.
    func testACommandThatCannotStartReplacesAStaleJUnitFileWithAnError() throws {
        let junit = "\(folder)/stale.xml"
        try writeStale(junit)
        let missing = "/nonexistent-\(getpid())"
        let run = try run(try quietScenario("30s"), ["--junit", junit], command: [missing], timeout: 10)
        XCTAssertEqual(run.termination, .exited(2), run.transcript)
        XCTAssertTrue(run.stderr.hasSuffix("\nfaultline: cannot start '\(missing)': No such file or directory\n"), run.transcript)
        let (name, message) = try errorCase(junit)
        XCTAssertEqual(name, "run")
        XCTAssertEqual(message, "cannot start '\(missing)': No such file or directory")
    }

    /// The first SIGTERM says at once that the command's group is being stopped and how; the
    /// log then says how the command ended in the verdict's words (it said "exited with status 137").
    func testTheFirstSignalSaysHowTheCommandIsStoppedAndTheLogAgreesWithTheVerdict() throws {
        let sleep = ProcessTable.marker(30)
        defer { ProcessTable.killLeftovers(sleep) }
        let process = try ChildProcess.spawn(try faultlineBinary(), [
            "run", try quietScenario("30s"), "--kill-after", "1s", "--", "/bin/sh", "-c", "trap '' TERM INT; sleep \(sleep)",
        ])
        XCTAssertTrue(process.waitForStderr(containing: "command started", timeout: 20), process.stderrText)
        // The shell ignores SIGTERM only once its trap ran, which the sleep after it shows: a
        // signal sent before that killed it with SIGTERM and the test then saw no SIGKILL.
        XCTAssertTrue(waitUntil(timeout: 10) { !((try? ProcessTable.matching(sleep)) ?? []).isEmpty }, "no '\(sleep)' started")
        let started = try XCTUnwrap(process.stderrText.split(separator: "\n").first { $0.contains("command started (pid ") })
        let pid = try XCTUnwrap(started.split(separator: "(pid ").last?.prefix { $0.isNumber })
        process.signal(SIGTERM)
        let said = "SIGTERM: stopping the command (process group \(pid)): SIGTERM now, SIGKILL in 1s; "
            + "signal again to kill it now"
        XCTAssertTrue(process.waitForStderr(containing: said, timeout: 0.5), process.stderrText)
        XCTAssertEqual(process.waitForExit(timeout: 10), .exited(1), process.stderrText)
        let lines = process.stderrText.split(separator: "\n").map { $0.dropFirst("00:00.0 ".count) }
        XCTAssertEqual(lines.filter { $0 == said }.count, 1, process.stderrText)
        let stopping = try XCTUnwrap(lines.firstIndex { $0 == said })
        let phaseEnded = try XCTUnwrap(lines.firstIndex { $0 == "phase only ended" }, process.stderrText)
        XCTAssertLessThan(stopping, phaseEnded, process.stderrText)
        XCTAssertTrue(lines.contains("command killed by SIGKILL (signal 9)"), process.stderrText)
        XCTAssertTrue(process.stdoutText.contains("\ncommand: killed by SIGKILL (signal 9) (the run fails)\n"), process.stdoutText)
    }

    /// On a terminal, Ctrl-C prints the same line above the live view, whose phase says `stopping`.
    func testCtrlCShowsTheStopOnTheLiveView() throws {
        let scenario = try quietScenario("30s", name: "live")
        let sleep = ProcessTable.marker(30)
        defer { ProcessTable.killLeftovers(sleep) }
        let terminal = try TerminalSession("\(try faultlineBinary()) run \(scenario) --kill-after 3s -- "
                                           + "/bin/sh -c \"trap '' TERM INT; sleep \(sleep)\"")
        _ = try terminal.waitFor("phase: only", timeout: 20)
        // Ctrl-C before the shell's trap ran would end the run at once, taking the view with it.
        XCTAssertTrue(waitUntil(timeout: 10) { !((try? ProcessTable.matching(sleep)) ?? []).isEmpty }, "no '\(sleep)' started")
        try terminal.send(keys: "C-c")
        let screen = try terminal.waitFor("SIGKILL in 3s", timeout: 1.5)
        let transcript = screen.joined(separator: "\n")
        XCTAssertTrue(screen.contains { $0.hasPrefix("SIGINT: stopping the command (process group ")
                && $0.hasSuffix("): SIGTERM now, SIGKILL in 3s; signal again to kill it now") }, transcript)
        XCTAssertTrue(screen.contains { $0.hasPrefix("faultline ▸ live   phase: stopping   ") }, transcript)
        let ended = try terminal.waitFor("exit status", timeout: 10)
        XCTAssertTrue(ended.contains("exit status 1"), ended.joined(separator: "\n"))
    }

    /// `--kill-after -1s` was taken for a flag ("Missing value for '--kill-after'").
    func testANegativeKillAfterIsNamedWithTheRange() throws {
        let run = try run(try quietScenario("30s"), ["--kill-after", "-1s"], command: ["/bin/true"], timeout: 10)
        XCTAssertEqual(run.termination, .exited(2), run.transcript)
        XCTAssertEqual(run.stderr, "faultline: --kill-after: '-1s' is out of range: durations go from 0 to 8760h (1 year)\n", run.transcript)
    }

    /// Each command's help gives its own --log-level default (run's said "info; warning for run").
    func testEachHelpGivesItsOwnLogLevelDefault() throws {
        for (command, level) in [("run", "warning"), ("proxy", "info")] {
            let (ended, stdout, _) = try runCommand(try faultlineBinary(), [command, "--help"], timeout: 10)
            XCTAssertEqual(ended, .exited(0))
            let text = stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            XCTAssertTrue(text.contains("critical (default: \(level))."), "\(command) --help:\n\(stdout)")
        }
    }
}
