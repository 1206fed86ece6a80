import ArgumentParser
import Faultline

/// The flags `run` and `replay` share: what the run writes, how it ends, the API, logging and
/// the recording.
struct RunOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write the verdict as JUnit XML: a testcase per expectation, one for CMD's exit, "
                               + "one for an interrupted run. Checked before the run starts.", valueName: "file"))
    var junit: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("How long CMD's process group has between SIGTERM and SIGKILL when the run ends "
                               + "(0s kills at once).", valueName: "duration"))
    var killAfter = "5s"

    @Flag(help: "End the run when CMD exits, even if the timeline has not finished.")
    var stopWithCommand = false

    @OptionGroup var apiOptions: APIOptions

    @OptionGroup var logging: RunLoggingOptions

    @OptionGroup var recording: RecordOptions
}
