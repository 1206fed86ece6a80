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
            [--stop-with-command] [--api <addr> [--token <token> | --insecure-no-token]] [--log-level <log-level>] \
            [--record <dir> [--capture-limit <size>] [--no-capture] [--no-redact]] [-- <cmd> ...]
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
              faultline run scenarios/redis-idle-cutoff.yaml --record out/ -- python3 examples/redis_client_correct.py --port 16379 --duration 22
            """)

    @Argument(help: ArgumentHelp("The scenario file.", valueName: "scenario.yaml"))
    var scenario: String

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Seed for every probabilistic decision, 0 to 2^64-1 (overrides the file's seed).", valueName: "seed"))
    var seed: String?

    @OptionGroup var options: RunOptions

    // Declared last so that usage and help show it after the options, where it must be typed.
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command under test and its arguments, after --.",
                                                           valueName: "cmd"))
    var command: [String] = []

    func run() throws {
        let seed = try OptionValues.seed(seed)
        try ScenarioRunner(options: options, command: command).run(path: scenario, seed: seed, source: scenario)
    }
}
