import Foundation
import Glibc
import XCTest

/// However `faultline run` ends, no process of the command under test is left: the whole
/// process group gets SIGTERM, then SIGKILL after --kill-after, and the verdict is still
/// printed. Each command holds a unique marker (`sleep 1031.482113`) that `ps` is searched for.
final class RunProcessCleanupTests: ScenarioRunCase {
    private var markers: [String] = []

    override func tearDown() {
        markers.forEach(ProcessTable.killLeftovers)
        super.tearDown()
    }

    /// A marker for this test, killed by tearDown if the run under test left it behind.
    private func marker(_ base: Int) -> String {
        let marker = ProcessTable.marker(base)
        markers.append(marker)
        return marker
    }


    /// Starts `faultline run` and waits until `count` processes hold `marker` (besides faultline).
    private func startRun(_ arguments: [String], marker: String, count: Int) throws -> ChildProcess {
        let process = try ChildProcess.spawn(try faultlineBinary(), ["run"] + arguments)
        var found: [ProcessTable.Entry] = []
        let deadline = monotonicSeconds() + 20
        while monotonicSeconds() < deadline && process.isRunning {
            found = try ProcessTable.matching(marker, excluding: process.pid)
            if found.count >= count { return process }
            usleep(100_000)
        }
        XCTFail("expected \(count) processes with \(marker), saw \(found)\n\(process.stderrText)")
        return process
    }

    private func assertNothingLeft(_ marker: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let left = try ProcessTable.matching(marker)
        XCTAssertEqual(left.map(\.description), [], "the run left processes behind", file: file, line: line)
    }

    /// The issue's first case: a command that ignores SIGTERM and SIGINT kept the run (and
    /// itself) alive forever. Now it is SIGKILLed after the default --kill-after of 5 s.
    func testACommandThatTrapsSIGTERMIsKilledAfterTheDefaultKillAfter() throws {
        let sleep = marker(1031)
        let process = try startRun([try quietScenario("30s", name: "cleanup"), "--", "/bin/sh", "-c", "trap '' TERM INT; sleep \(sleep)"],
                                   marker: sleep, count: 2)
        let signalled = monotonicSeconds()
        process.signal(SIGTERM)
        let ended = process.waitForExit(timeout: 12)
        let took = monotonicSeconds() - signalled
        XCTAssertEqual(ended, .exited(1), "after \(took) s\n\(process.stdoutText)\n\(process.stderrText)")
        XCTAssertGreaterThan(took, 4.5, "SIGKILL came before --kill-after's 5 s")
        XCTAssertLessThan(took, 8, "the run outlived --kill-after by far")
        try assertNothingLeft(sleep)
        XCTAssertTrue(process.stdoutText.contains("\ncleanup: the expectation held\n"), process.stdoutText)
        XCTAssertTrue(process.stdoutText.contains("\ncommand: killed by SIGKILL (signal 9) (the run fails)\n"),
                      process.stdoutText)
        XCTAssertTrue(process.stdoutText.hasSuffix("\nrun: interrupted by SIGTERM (signal 15) before the end (the run fails)\n"),
                      process.stdoutText)
    }

    /// A second signal does not wait for --kill-after: the group is SIGKILLed at once, the
    /// verdict and JUnit still come out, and faultline exits 128+N.
    func testASecondSignalKillsTheGroupAtOnceAndExits128PlusN() throws {
        let sleep = marker(1032)
        let junit = "\(folder)/verdict.xml"
        let process = try startRun([try quietScenario("30s", name: "cleanup"), "--junit", junit, "--",
                                    "/bin/sh", "-c", "trap '' TERM INT; sleep \(sleep)"], marker: sleep, count: 2)
        process.signal(SIGTERM)
        XCTAssertNil(process.waitForExit(timeout: 0.5), "the first signal must give the command --kill-after")
        let second = monotonicSeconds()
        process.signal(SIGTERM)
        let ended = process.waitForExit(timeout: 5)
        XCTAssertEqual(ended, .exited(128 + SIGTERM), "\(process.stdoutText)\n\(process.stderrText)")
        XCTAssertLessThan(monotonicSeconds() - second, 2, "the second signal should end the run at once")
        try assertNothingLeft(sleep)
        XCTAssertTrue(process.stdoutText.contains("\ncommand: killed by SIGKILL (signal 9) (the run fails)\n"),
                      process.stdoutText)
        let xml = (try? String(contentsOfFile: junit, encoding: .utf8)) ?? "no file"
        XCTAssertTrue(xml.contains(#"<testsuite name="cleanup" tests="3" failures="2""#), xml)
    }

    /// SIGINT reaches the background job too (a non-interactive shell starts `&` jobs with
    /// SIGINT ignored, so forwarding SIGINT alone would have left it), at once, not after
    /// --kill-after.
    func testSIGINTEndsTheCommandAndItsBackgroundJob() throws {
        let background = marker(1003)
        // The same random fraction: the shell and both sleeps hold it.
        let tag = String(background.drop { $0 != "." })
        let foreground = "1004" + tag
        markers.append(foreground)
        let process = try startRun([try quietScenario("30s", name: "cleanup"), "--",
                                    "/bin/sh", "-c", "sleep \(background) & sleep \(foreground)"],
                                   marker: tag, count: 3)
        XCTAssertEqual(try ProcessTable.matching(background, excluding: process.pid).count, 2)
        let signalled = monotonicSeconds()
        process.signal(SIGINT)
        XCTAssertEqual(process.waitForExit(timeout: 10), .exited(1), process.stderrText)
        XCTAssertLessThan(monotonicSeconds() - signalled, 3, "SIGTERM should end sleep without waiting for SIGKILL")
        try assertNothingLeft(background)
        try assertNothingLeft(foreground)
        XCTAssertTrue(process.stdoutText.contains("\nrun: interrupted by SIGINT (signal 2) before the end (the run fails)\n"),
                      process.stdoutText)
    }

    /// A run that ends normally, with its command long gone, still ends what the command left
    /// running in its group; the run passes, the command having exited 0.
    func testANormalEndEndsWhatTheCommandLeftRunning() throws {
        let sleep = marker(1021)
        let run = try run(try quietScenario("1s", name: "cleanup"), command: ["/bin/sh", "-c", "sleep \(sleep) & exit 0"], timeout: 20)
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        XCTAssertLessThan(run.seconds, 5, run.transcript)
        try assertNothingLeft(sleep)
        XCTAssertTrue(run.stdout.hasSuffix("\ncommand: exited with status 0\n"), run.transcript)
    }

    /// With --stop-with-command the run ends when the command exits, its leftovers with it.
    func testStopWithCommandEndsWhatTheCommandLeftRunning() throws {
        let sleep = marker(1022)
        let run = try run(try quietScenario("30s", name: "cleanup"), ["--stop-with-command"],
                          command: ["/bin/sh", "-c", "sleep \(sleep) & sleep 0.3"], timeout: 20)
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        XCTAssertLessThan(run.seconds, 5, run.transcript)
        try assertNothingLeft(sleep)
    }

    /// --kill-after 0s: a command that ignores SIGTERM is killed as soon as the run ends.
    func testKillAfterZeroKillsAtOnce() throws {
        let sleep = marker(1033)
        let process = try startRun([try quietScenario("30s", name: "cleanup"), "--kill-after", "0s", "--",
                                    "/bin/sh", "-c", "trap '' TERM INT; sleep \(sleep)"], marker: sleep, count: 2)
        let signalled = monotonicSeconds()
        process.signal(SIGTERM)
        XCTAssertEqual(process.waitForExit(timeout: 5), .exited(1), process.stderrText)
        XCTAssertLessThan(monotonicSeconds() - signalled, 2.5)
        try assertNothingLeft(sleep)
    }

    /// Even SIGKILL, which faultline cannot handle, takes the command along: the kernel
    /// kills it when its parent dies (PR_SET_PDEATHSIG).
    func testTheCommandDiesWithAKilledFaultline() throws {
        let sleep = marker(1041)
        let process = try startRun([try quietScenario("30s", name: "cleanup"), "--", "/bin/sleep", sleep], marker: sleep, count: 1)
        process.signal(SIGKILL)
        XCTAssertEqual(process.waitForExit(timeout: 5), .signaled(SIGKILL))
        var left = try ProcessTable.matching(sleep)
        let deadline = monotonicSeconds() + 1
        while !left.isEmpty && monotonicSeconds() < deadline {
            usleep(50_000)
            left = try ProcessTable.matching(sleep)
        }
        XCTAssertEqual(left.map(\.description), [], "the command outlived faultline by more than a second")
    }
}
