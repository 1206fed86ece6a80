import Foundation
import FoundationXML
import Glibc
import XCTest

/// What `faultline run` prints and writes besides the expectations: the command and an
/// interruption as JUnit testcases, output paths checked before the run, and a help that
/// shows where options go.
final class RunOutputTests: ScenarioRunCase {
    /// The testcases of a JUnit file by name, and its testsuite's counts.
    private func junitCases(_ path: String) throws -> (cases: [String: XMLElement], suite: XMLElement?) {
        let document = try XMLDocument(data: try XCTUnwrap(FileManager.default.contents(atPath: path), "no \(path)"))
        let cases = try document.nodes(forXPath: "//testsuite/testcase").compactMap { $0 as? XMLElement }
        let byName = Dictionary(cases.map { ($0.attribute(forName: "name")?.stringValue ?? "", $0) },
                                uniquingKeysWith: { first, _ in first })
        return (byName, try document.nodes(forXPath: "//testsuite").first as? XMLElement)
    }

    private func failureMessage(_ testcase: XMLElement?) -> String? {
        testcase?.elements(forName: "failure").first?.attribute(forName: "message")?.stringValue
    }

    /// `-- false` fails the run; JUnit used to say failures="0" while the run exited 1.
    func testAFailingCommandIsAFailedTestcase() throws {
        let junit = "\(folder)/verdict.xml"
        let run = try run(try quietScenario("500ms"), ["--junit", junit], command: ["/bin/false"])
        XCTAssertEqual(run.termination, .exited(1), run.transcript)
        XCTAssertTrue(run.stdout.hasSuffix("\ncommand: exited with status 1 (the run fails)\n"), run.transcript)
        let (cases, suite) = try junitCases(junit)
        XCTAssertEqual(failureMessage(cases["command"]), "exited with status 1")
        XCTAssertNil(cases["max_connection_attempts: 100"]?.elements(forName: "failure").first)
        XCTAssertEqual(suite?.attribute(forName: "tests")?.stringValue, "2")
        XCTAssertEqual(suite?.attribute(forName: "failures")?.stringValue, "1")
        assertJUnit(junit, run, expectations: 1)
    }

    /// A command that exits 0 is a passing testcase, so CI shows it ran.
    func testAPassingCommandIsAPassedTestcase() throws {
        let junit = "\(folder)/verdict.xml"
        let run = try run(try quietScenario("500ms"), ["--junit", junit], command: ["/bin/true"])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        let (cases, suite) = try junitCases(junit)
        XCTAssertNotNil(cases["command"], "no command testcase")
        XCTAssertNil(failureMessage(cases["command"]))
        XCTAssertEqual(cases["command"]?.elements(forName: "system-out").first?.stringValue,
                       "/bin/true: exited with status 0")
        XCTAssertEqual(suite?.attribute(forName: "failures")?.stringValue, "0")
    }

    /// A run cut short by SIGTERM is a failed `run` testcase; its command, ended by the
    /// run's SIGTERM, a failed `command` one.
    func testAnInterruptedRunIsAFailedTestcase() throws {
        let junit = "\(folder)/verdict.xml"
        let process = try ChildProcess.spawn(try faultlineBinary(), [
            "run", try quietScenario("30s"), "--junit", junit, "--", "/bin/sleep", "30",
        ])
        XCTAssertTrue(process.waitForStderr(containing: "command started", timeout: 20), process.stderrText)
        process.signal(SIGTERM)
        XCTAssertEqual(process.waitForExit(timeout: 10), .exited(1), process.stderrText)
        let (cases, suite) = try junitCases(junit)
        XCTAssertEqual(failureMessage(cases["run"]), "interrupted by SIGTERM (signal 15) before the end")
        XCTAssertEqual(failureMessage(cases["command"]), "killed by SIGTERM (signal 15)")
        XCTAssertEqual(suite?.attribute(forName: "tests")?.stringValue, "3")
        XCTAssertEqual(suite?.attribute(forName: "failures")?.stringValue, "2")
    }

    /// A --junit path that cannot be written stops the run before anything starts, with the
    /// system's reason instead of "NSCocoaErrorDomain error 512" at the end of a long run.
    func testAnUnwritableJUnitPathExitsTwoBeforeTheRun() throws {
        let scenario = try quietScenario("30s")
        let ran = "\(folder)/command-ran"
        let cases = [
            ("/nonexistent-\(getpid())/verdict.xml", "No such file or directory"),
            (folder, "Is a directory"),
            ("\(scenario)/verdict.xml", "Not a directory"),
        ]
        for (path, reason) in cases {
            let run = try run(scenario, ["--junit", path], command: ["/usr/bin/touch", ran], timeout: 10)
            XCTAssertEqual(run.termination, .exited(2), run.transcript)
            XCTAssertEqual(run.stderr, "faultline: --junit: cannot write \(path): \(reason)\n", run.transcript)
            XCTAssertEqual(run.stdout, "")
            XCTAssertLessThan(run.seconds, 5, "the check should come before the 30 s run")
            XCTAssertFalse(FileManager.default.fileExists(atPath: ran), "the command ran")
        }
    }

    func testABadKillAfterExitsTwo() throws {
        let run = try run(try quietScenario("30s"), ["--kill-after", "soon"], command: ["/bin/true"], timeout: 10)
        XCTAssertEqual(run.termination, .exited(2), run.transcript)
        XCTAssertTrue(run.stderr.hasPrefix("faultline: --kill-after: "), run.transcript)
        XCTAssertTrue(run.stderr.contains("soon"), run.transcript)
    }

    /// The help shows the real shape: options first, then `--` and the command, whose own
    /// options (`--junit` here) go to it. The help used to put `--log-level` after
    /// `-- [<cmd> ...]`, where it would have gone to the command.
    func testHelpShowsOptionsBeforeTheSeparatorAndTheCommandGetsWhatFollowsIt() throws {
        let (ended, stdout, _) = try runCommand(try faultlineBinary(), ["run", "--help"], timeout: 10)
        XCTAssertEqual(ended, .exited(0))
        let usage = try XCTUnwrap(stdout.split(separator: "\n").first { $0.hasPrefix("USAGE: ") }, stdout)
        XCTAssertEqual(usage, "USAGE: faultline run <scenario.yaml> [--junit <file>] [--seed <seed>] "
                       + "[--kill-after <duration>] [--stop-with-command] [--api <addr> [--token <token> | --insecure-no-token]] [--log-level <log-level>] "
                       + "[--record <dir> [--capture-limit <size>] [--no-capture] [--no-redact]] [-- <cmd> ...]")

        let junit = "\(folder)/verdict.xml"
        let run = try run(try quietScenario("300ms"), command: [
            "/bin/sh", "-c", #"printf 'args: %s\n' "$*""#, "sh", "--junit", junit, "--kill-after", "1s",
        ])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        XCTAssertTrue(run.stdout.hasPrefix("args: --junit \(junit) --kill-after 1s\n"), run.transcript)
        XCTAssertFalse(FileManager.default.fileExists(atPath: junit))
    }
}
