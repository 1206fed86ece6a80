import ArgumentParser
import Faultline
import Foundation

/// Plays a scenario file for `run` and `replay`: its proxies, timeline and command, the
/// verdict, --junit and --record.
struct ScenarioRunner {
    let options: RunOptions
    /// The command under test (after --), possibly empty.
    let command: [String]

    /// Runs the scenario at `path` with `seed` (else the file's, else a random one). `source`
    /// names the scenario in the recording's header (`replay` passes the recording's folder).
    func run(path scenario: String, seed: UInt64?, source: String) throws {
        let grace = try OptionValues.killAfter(options.killAfter)
        let apiAddress = try options.apiOptions.address(default: nil)
        let recordingOptions = try options.recording.options()
        // The verdict must have somewhere to go before a minute-long run starts.
        let junitFile: OutputFile?
        do {
            junitFile = try options.junit.map { try OutputFile(path: $0, option: "--junit") }
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
        let log = options.logging.bootstrap()
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
                                 stopWithCommand: options.stopWithCommand, killAfter: grace, commandOutput: commandOutput,
                                 loop: loop, logger: log)
        let recording: Recording?
        do {
            recording = try options.recording.start(recordingOptions, command: "run", seed: runSeed, bus: session.bus,
                                                    loop: loop, log: log)
        } catch let error as InputError {
            FaultlineCommand.printError("faultline: \(error.message)")
            throw Self.badInput(error.message, scenario: loaded.name, junit: junitFile)
        }
        if let recording { Self.recordScenario(path: scenario, seed: runSeed, source: source, into: recording) }
        let evaluator = RunSession.evaluator(for: loaded)
        evaluator.subscribe(to: session.bus)
        let control = try apiAddress.map { address in
            let plane = ControlPlane(loop: loop, bus: session.bus, seed: runSeed, log: log)
            let server = try options.apiOptions.serve(plane, on: address, log: log)
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
            recording?.flush()
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
        for verdict in verdicts {
            session.bus.emit(.verdict(label: verdict.label, expectation: verdict.kind, status: verdict.status.rawValue,
                                      observed: verdict.observed))
        }
        recording?.finish()
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

    /// Writes `scenario.yaml` into the recording: the file as run, with its seed.
    private static func recordScenario(path: String, seed: UInt64, source: String, into recording: Recording) {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let original = String(decoding: data, as: UTF8.self)
        if let text = RecordedScenario.text(original, seed: seed, source: source) {
            recording.write("scenario.yaml", text)
        } else {
            recording.write("scenario.yaml", original)
            FaultlineCommand.printError("faultline: --record: the run's seed \(seed) could not be written into scenario.yaml; "
                                        + "replay it with --seed \(seed)")
        }
    }
}
