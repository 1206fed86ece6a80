import ArgumentParser
import Faultline
import Foundation

/// `faultline replay DIR [-- CMD ARGS…]`: plays a recording's scenario again, with the seed and
/// timeline it was recorded with, so the same client meets the same fault decisions.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Play a recording's scenario again with its seed and timeline (DIR is a --record folder).",
        usage: """
            faultline replay <dir> [--junit <file>] [--kill-after <duration>] [--stop-with-command] \
            [--api <addr> [--token <token> | --insecure-no-token]] [--log-level <log-level>] \
            [--record <dir> [--capture-limit <size>] [--no-capture] [--no-redact]] [-- <cmd> ...]
            """,
        discussion: """
            Reads DIR/scenario.yaml (written by --record, with the run's seed in it) and runs it as \
            `faultline run` would, with the same options. Every decision faultline takes from the \
            seed (probability, every, jitter, slice sizes) comes out the same for the same sequence \
            of connections and requests: a client that behaves the same meets the same faults. \
            Record the replay into another folder to compare: --record DIR2.

            Examples:
              faultline replay out/ -- python3 examples/redis_client_correct.py --port 16379 --duration 22
              faultline replay out/ --record out-replay/ -- ./client.sh
            """)

    @Argument(help: ArgumentHelp("A folder written by --record.", valueName: "dir"))
    var directory: String

    @OptionGroup var options: RunOptions

    // Declared last so that usage and help show it after the options, where it must be typed.
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command under test and its arguments, after --.",
                                                           valueName: "cmd"))
    var command: [String] = []

    func run() throws {
        let path = directory.hasSuffix("/") ? directory + "scenario.yaml" : directory + "/scenario.yaml"
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputError("replay", "\(path) not found: DIR must be a folder written by `faultline run --record DIR`")
        }
        if let record = options.recording.record, Self.sameFolder(record, directory) {
            throw InputError("--record", "\(record) is the recording being replayed: record the replay into another folder")
        }
        try ScenarioRunner(options: options, command: command).run(path: path, seed: nil, source: path)
    }

    private static func sameFolder(_ first: String, _ second: String) -> Bool {
        let resolve = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        return resolve(first) == resolve(second)
    }
}
