import ArgumentParser
import Faultline
import Foundation

/// `faultline run SCENARIO.yaml [-- CMD ARGS…]`: plays a scenario around the command under
/// test and judges the client by the scenario's expectations.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start a scenario's proxies, play its timeline, run CMD, judge its expectations.",
        discussion: """
            The run ends when both the timeline and CMD have finished (or when CMD exits, with \
            --stop-with-command). SIGINT/SIGTERM are forwarded to CMD and end the run.
            Exit status: 0 every expectation held (and CMD exited 0), 1 an expectation failed or \
            CMD failed, 2 bad input.

            Examples:
              faultline run scenarios/redis-idle-cutoff.yaml -- python3 examples/redis_client_correct.py --port 16379 --duration 20
              faultline run scenarios/startup-race.yaml --junit verdict.xml --seed 7 -- ./start-service.sh
            """)

    @Argument(help: ArgumentHelp("The scenario file.", valueName: "scenario.yaml"))
    var scenario: String

    @Option(help: ArgumentHelp("Write the verdict as JUnit XML (one testcase per expectation).", valueName: "file"))
    var junit: String?

    @Option(help: "Seed for every probabilistic decision (overrides the file's seed).")
    var seed: UInt64?

    @Flag(help: "End the run when CMD exits, even if the timeline has not finished.")
    var stopWithCommand = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command under test, after --.", valueName: "cmd"))
    var command: [String] = []

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let loaded: Scenario
        do {
            loaded = try ScenarioLoader.load(path: scenario)
        } catch {
            error.issues.forEach { FaultlineCommand.printError($0.description) }
            throw ExitCode(2)
        }
        // The run's own report says what happens; logs add only problems unless asked for.
        let log = logging.bootstrap(defaultLevel: .warning)
        ResourceLimits.raiseOpenFiles(log: log)
        let runSeed = seed ?? loaded.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        FaultlineCommand.printError("scenario \(loaded.name): seed \(runSeed) (--seed \(runSeed) repeats it)")
        let loop = try EventLoop()
        let session = RunSession(
            proxies: loaded.proxies.map { ProxyPlan(name: $0.name, listen: $0.listen, upstream: $0.upstream) },
            phases: loaded.timeline.map { phase in
                Phase(name: phase.name, duration: phase.duration,
                      faults: phase.faults.map { PlacedFault(proxy: $0.proxy, fault: $0.fault) })
            },
            wholeRun: loaded.faults.map { PlacedFault(proxy: $0.proxy, fault: $0.fault) },
            seed: runSeed, command: command.isEmpty ? nil : command, stopWithCommand: stopWithCommand,
            loop: loop, logger: log)
        let evaluator = ExpectationEvaluator(loaded.expectationSpecs)
        evaluator.subscribe(to: session.bus)
        let reporter = RunReporter(scenario: loaded.name, proxies: Array(session.proxies.values),
                                   timeline: session.timeline, bus: session.bus, loop: loop, live: isatty(2) != 0)
        var outcome: RunOutcome?
        let signals = ShutdownSignals(loop: loop) { signo in
            log.notice("signal \(signo): stopping the run (a second signal exits at once)")
            session.interrupt(signo)
        }
        do {
            try session.start { ended in
                outcome = ended
                loop.stop()
            }
        } catch {
            FaultlineCommand.printError("faultline: \(error)")
            throw ExitCode(2)
        }
        loop.run()
        reporter.finish()
        withExtendedLifetime(signals) {}
        guard let outcome else { throw ExitCode(1) }
        try judge(evaluator.verdicts(endTime: outcome.duration), outcome: outcome, scenario: loaded.name)
    }

    /// Prints the verdict, writes JUnit, and exits 1 when anything failed.
    private func judge(_ verdicts: [Verdict], outcome: RunOutcome, scenario: String) throws {
        print(VerdictReport.text(verdicts, scenario: scenario))
        if let status = outcome.commandStatus {
            print("command: exited with status \(status)\(status == 0 ? "" : " (the run fails)")")
        }
        if let signo = outcome.interruptedBy {
            print("run: interrupted by signal \(signo) before the end (the run fails)")
        }
        if let junit {
            let xml = VerdictReport.junitXML(verdicts, scenario: scenario, duration: outcome.duration)
            do {
                try xml.write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                FaultlineCommand.printError("faultline: cannot write --junit \(junit): \(error.localizedDescription)")
                throw ExitCode(2)
            }
        }
        let commandFailed = outcome.commandStatus.map { $0 != 0 } ?? false
        if commandFailed || verdicts.contains(where: { !$0.passed }) || outcome.interruptedBy != nil {
            throw ExitCode(1)
        }
    }
}
