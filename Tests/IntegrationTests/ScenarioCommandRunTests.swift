import Foundation
import Glibc
import XCTest

/// `faultline run … -- CMD`: the command's exit status decides the run too, the run lasts as
/// long as the longer of the timeline and the command (or the command with
/// --stop-with-command), and SIGTERM reaches the command. No client connects here, so the
/// proxy's upstream is a port nothing listens on.
final class ScenarioCommandRunTests: ScenarioRunCase {
    private let heldVerdict = "max_connection_attempts: 100"

    func testCommandExitStatusDecidesTheRun() throws {
        let scenario = try quietScenario("1s")
        let failed = try run(scenario, command: ["/bin/sh", "-c", "exit 3"])
        // Every expectation held: the command alone fails the run.
        XCTAssertEqual(failed.termination, .exited(1), failed.transcript)
        assertVerdict(failed, "PASS", heldVerdict, figure: "max_connection_attempts 0 ≤ 100")
        XCTAssertTrue(failed.stdout.contains("\ncommand: exited with status 3"), failed.transcript)
        XCTAssertTrue(failed.stderr.contains("command exited with status 3"), failed.transcript)

        let passed = try run(scenario, command: ["/bin/sh", "-c", "exit 0"])
        XCTAssertEqual(passed.termination, .exited(0), passed.transcript)
        XCTAssertTrue(passed.stdout.contains("\ncommand: exited with status 0"), passed.transcript)
    }

    func testStopWithCommandEndsTheRunWhenTheCommandExits() throws {
        // A 30 s timeline, a 0.5 s command: the run must end with the command, not the timeline.
        let run = try run(try quietScenario("30s"), ["--stop-with-command"], command: ["/bin/sleep", "0.5"])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        XCTAssertGreaterThanOrEqual(run.seconds, 0.5, run.transcript)
        XCTAssertLessThan(run.seconds, 10, "the run outlived its command by far\n\(run.transcript)")
        assertVerdict(run, "PASS", heldVerdict, figure: "max_connection_attempts 0 ≤ 100")
        XCTAssertTrue(run.stdout.contains("command: exited with status 0"), run.transcript)
    }

    func testWithoutStopWithCommandTheRunLastsTheTimeline() throws {
        let run = try run(try quietScenario("3s"), command: ["/bin/true"])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        XCTAssertGreaterThanOrEqual(run.seconds, 3, "the run ended before its timeline\n\(run.transcript)")
        XCTAssertLessThan(run.seconds, 30, run.transcript)
        // Off a terminal the events go to stderr as lines: the command ended, then the phase.
        let exited = run.stderr.range(of: "command exited with status 0")
        let ended = run.stderr.range(of: "phase only ended")
        XCTAssertNotNil(exited, run.transcript)
        XCTAssertNotNil(ended, run.transcript)
        if let exited, let ended { XCTAssertLessThan(exited.lowerBound, ended.lowerBound, run.transcript) }
    }

    func testTheRunWaitsForACommandThatOutlastsTheTimeline() throws {
        let run = try run(try quietScenario("1s"), command: ["/bin/sleep", "3"])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        XCTAssertGreaterThanOrEqual(run.seconds, 3, "the run cut its command short\n\(run.transcript)")
        XCTAssertTrue(run.stdout.contains("command: exited with status 0"), run.transcript)
    }

    /// SIGTERM to faultline mid-run reaches the command (its own handler runs and chooses its
    /// exit status, which faultline then reports), and the run ends at once, not after the
    /// 30 s timeline.
    func testSIGTERMIsForwardedToTheCommand() throws {
        let marker = "\(folder)/got-signal"
        let ready = "\(folder)/ready"
        // The ready file is written only once the handler is installed, so the test never
        // signals a command that would still die of SIGTERM's default action.
        let script = """
            import signal, sys, time
            def stop(signo, frame):
                open(sys.argv[1], "w").write(signal.Signals(signo).name)
                sys.exit(7)
            signal.signal(signal.SIGTERM, stop)
            open(sys.argv[2], "w").write("ready")
            while True:
                time.sleep(0.05)
            """
        let process = try ChildProcess.spawn(try faultlineBinary(), [
            "run", try quietScenario("30s"), "--", try python(), "-c", script, marker, ready,
        ])
        XCTAssertTrue(waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: ready) || !process.isRunning },
                      process.stderrText)
        XCTAssertTrue(process.isRunning, "faultline ended before the signal:\n\(process.stderrText)")
        let signalled = monotonicSeconds()
        process.signal(SIGTERM)
        let ended = process.waitForExit(timeout: 10)
        let took = monotonicSeconds() - signalled
        XCTAssertNotNil(ended, "faultline still running 10 s after SIGTERM")
        XCTAssertLessThan(took, 5, "the run did not end promptly")
        // It exits by itself (not killed by the signal) and an interrupted run never passes.
        if case let .exited(code)? = ended { XCTAssertNotEqual(code, 0, process.stdoutText) } else {
            XCTFail("faultline \(ended.map { "\($0)" } ?? "did not end") instead of exiting")
        }
        let got = (try? String(contentsOfFile: marker, encoding: .utf8)) ?? "nothing"
        XCTAssertEqual(got, "SIGTERM", "the command's handler did not run:\n\(process.stderrText)")
        XCTAssertTrue(process.stdoutText.contains("command: exited with status 7"),
                      "stdout:\n\(process.stdoutText)\nstderr:\n\(process.stderrText)")
    }
}
