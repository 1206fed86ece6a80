import ArgumentParser
import Faultline
import Foundation

/// `faultline run SCENARIO.yaml [-- CMD ARGS…]`: plays a scenario around the command under
/// test and judges the client by the scenario's expectations.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start a scenario's proxies, play its timeline, run CMD, judge its expectations.",
        // The generated usage writes `-- [<cmd> ...]`, as if -- were required without a command.
        usage: """
            faultline run <scenario.yaml> [--junit <file>] [--seed <seed>] [--kill-after <duration>] \
            [--stop-with-command] [--api <addr> [--token <token> | --insecure-no-token]] [--log-level <log-level>] [-- <cmd> ...]
            """,
        discussion: """
            Options go before --: everything after it is the command under test and its own \
            arguments.
            The run ends when both the timeline and CMD have finished (or when CMD exits, with \
            --stop-with-command), or on SIGINT/SIGTERM. However it ends, CMD's whole process \
            group gets SIGTERM, then SIGKILL after --kill-after: no process of it is left. The \
            verdict is still printed and --junit written after a signal; a second signal kills \
            CMD at once and exits 128+N after the verdict.
            Exit status: 0 every expectation held (and CMD exited 0), 1 an expectation failed, \
            CMD failed or a signal cut the run short, 2 bad input.

            Examples:
              faultline run scenarios/redis-idle-cutoff.yaml -- python3 examples/redis_client_correct.py --port 16379 --duration 22
              faultline run scenarios/startup-race.yaml --junit verdict.xml -- ./start.sh
            """)

    @Argument(help: ArgumentHelp("The scenario file.", valueName: "scenario.yaml"))
    var scenario: String

    @Option(help: ArgumentHelp("Write the verdict as JUnit XML: a testcase per expectation, one for CMD's exit, "
                               + "one for an interrupted run. Checked before the run starts.", valueName: "file"))
    var junit: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Seed for every probabilistic decision, 0 to 2^64-1 (overrides the file's seed).", valueName: "seed"))
    var seed: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("How long CMD's process group has between SIGTERM and SIGKILL when the run ends "
                               + "(0s kills at once).", valueName: "duration"))
    var killAfter = "5s"

    @Flag(help: "End the run when CMD exits, even if the timeline has not finished.")
    var stopWithCommand = false

    @OptionGroup var apiOptions: APIOptions

    @OptionGroup var logging: RunLoggingOptions

    // Declared last so that usage and help show it after the options, where it must be typed.
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command under test and its arguments, after --.",
                                                           valueName: "cmd"))
    var command: [String] = []

    func run() throws {
        let seed = try OptionValues.seed(seed)
        let grace = try OptionValues.killAfter(killAfter)
        let apiAddress = try apiOptions.address(default: nil)
        // The verdict must have somewhere to go before a minute-long run starts.
        let junitFile: OutputFile?
        do {
            junitFile = try junit.map { try OutputFile(path: $0, option: "--junit") }
        } catch {
            FaultlineCommand.printError("faultline: \(error)")
            throw ExitCode(2)
        }
        let loaded: Scenario
        do {
            loaded = try ScenarioLoader.load(path: scenario)
        } catch {
            error.issues.forEach { FaultlineCommand.printError($0.description) }
            throw Self.badInput(error.description, scenario: scenario, junit: junitFile)
        }
        // The run's own report says what happens; logs add only problems unless asked for.
        let log = logging.bootstrap()
        ResourceLimits.raiseOpenFiles(log: log)
        let runSeed = seed ?? loaded.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        FaultlineCommand.printError("scenario \(TerminalText.escaped(loaded.name)): seed \(runSeed) (--seed \(runSeed) repeats it)")
        let loop = try EventLoop()
        // Every object below registers events on the loop's base: it must go last.
        defer { withExtendedLifetime(loop) {} }
        var live = isatty(2) != 0
        var commandOutput: CommandTerminal?
        if live && !command.isEmpty {
            do {
                commandOutput = try CommandTerminal()
            } catch {
                live = false
                log.warning("\(error); plain lines instead of the live view")
            }
        }
        let session = RunSession(scenario: loaded, seed: runSeed, command: command.isEmpty ? nil : command,
                                 stopWithCommand: stopWithCommand, killAfter: grace, commandOutput: commandOutput,
                                 loop: loop, logger: log)
        let evaluator = RunSession.evaluator(for: loaded)
        evaluator.subscribe(to: session.bus)
        let control = try apiAddress.map { address in
            let plane = ControlPlane(loop: loop, bus: session.bus, seed: runSeed, log: log)
            let server = try apiOptions.serve(plane, on: address, log: log)
            server.api.scenarios.attach(session, scenario: loaded, evaluator: evaluator, seed: runSeed)
            FaultlineCommand.printError("control API on http://\(server.address)")
            return server
        }
        let reporter = RunReporter(scenario: loaded.name, proxies: Array(session.proxies.values),
                                   timeline: session.timeline, bus: session.bus, loop: loop, live: live)
        commandOutput?.watch(loop: loop) { reporter.showCommandOutput($0) }
        var outcome: RunOutcome?
        // The first signal is reported by the reporter, from the session's `stopping` event.
        let signals = ShutdownSignals(loop: loop, onFirst: { signo in
            session.interrupt(signo)
        }, onSecond: { signo in
            log.notice("signal \(signo): killing the command")
            session.forceEnd(signo)
        })
        do {
            try session.start { ended in
                outcome = ended
                loop.stop()
            }
        } catch {
            FaultlineCommand.printError("faultline: \(error)")
            throw Self.badInput("\(error)", scenario: loaded.name, junit: junitFile)
        }
        loop.run()
        commandOutput?.drain()
        reporter.finish()
        withExtendedLifetime(signals) {}
        guard let outcome else { throw ExitCode(1) }
        let verdicts = evaluator.verdicts(endTime: outcome.duration)
        control?.api.scenarios.attachedRunEnded(verdicts: verdicts, outcome: outcome)
        if let control {
            control.finishStreams()
            loop.run(for: .milliseconds(200))
        }
        try judge(verdicts, outcome: outcome, scenario: loaded.name, junit: junitFile)
    }

    /// Exit 2 after --junit was checked: the file gets one `run` testcase with `reason` as its
    /// error, so CI reads this run's error instead of an earlier run's verdict.
    private static func badInput(_ reason: String, scenario: String, junit: OutputFile?) -> ExitCode {
        do {
            try junit?.write(VerdictReport.junitError(reason, scenario: scenario))
        } catch {
            FaultlineCommand.printError("faultline: \(error)")
        }
        return ExitCode(2)
    }

    /// Prints the verdict, writes JUnit, and exits 1 when anything failed (128+N after a
    /// second signal N).
    private func judge(_ verdicts: [Verdict], outcome: RunOutcome, scenario: String, junit: OutputFile?) throws {
        let checks = RunCheck.checks(for: outcome)
        print(VerdictReport.text(verdicts, scenario: scenario))
        checks.forEach { print($0.line) }
        if let junit {
            do {
                try junit.write(VerdictReport.junitXML(verdicts, scenario: scenario, duration: outcome.duration,
                                                       runChecks: checks))
            } catch {
                FaultlineCommand.printError("faultline: \(error)")
                throw ExitCode(2)
            }
        }
        if let signo = outcome.forcedBy { throw ExitCode(128 + signo) }
        if verdicts.contains(where: { !$0.passed }) || checks.contains(where: { !$0.passed }) {
            throw ExitCode(1)
        }
    }
}
