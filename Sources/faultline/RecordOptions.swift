import ArgumentParser
import Faultline
import Logging

/// `--record DIR` and what refines it, shared by `run`, `replay`, `serve` and `proxy`.
struct RecordOptions: ParsableArguments {
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Record into this folder (made if missing): events.jsonl, capture.pcapng, report.html, "
                               + "scenario.yaml. See docs/recording.md.", valueName: "dir"))
    var record: String?

    @Option(name: .customLong("capture-limit"), parsing: .unconditional,
            help: ArgumentHelp("capture.pcapng stops growing past this size (an event says so): 1MB to 1TB "
                               + "(default: 256MB; KB/MB/GB/TB or KiB/MiB/GiB/TiB).", valueName: "size"))
    var captureLimit: String?

    @Flag(name: .customLong("no-capture"), help: "Record events and the report, not capture.pcapng.")
    var noCapture = false

    @Flag(name: .customLong("no-redact"),
          help: "Keep passwords, tokens and cookies in the capture (they are overwritten with * by default).")
    var noRedact = false

    /// The recording asked for, checked; nil without --record (a refinement alone is refused).
    func options() throws -> RecordingOptions? {
        guard let record else {
            let given = [("--capture-limit", captureLimit != nil), ("--no-capture", noCapture), ("--no-redact", noRedact)]
            if let flag = given.first(where: { $0.1 })?.0 {
                throw InputError(flag, "needs --record DIR: it refines what the recording writes")
            }
            return nil
        }
        var options = RecordingOptions(directory: record)
        options.capture = !noCapture
        options.redact = !noRedact
        if let captureLimit {
            if noCapture { throw InputError("--capture-limit", "means nothing with --no-capture") }
            do { options.captureLimit = try RecordingOptions.parseSize(captureLimit) } catch {
                throw InputError("--capture-limit", error)
            }
        }
        return options
    }

    /// Starts recording `bus` when asked; an unwritable folder is bad input (exit 2).
    func start(_ options: RecordingOptions?, command: String, seed: UInt64?, bus: EventBus, loop: EventLoop,
               log: Logger) throws -> Recording? {
        guard let options else { return nil }
        do {
            return try Recording(options: options, command: command, seed: seed, bus: bus, loop: loop, log: log)
        } catch {
            throw InputError("--record", error)
        }
    }
}
