/// A verdict on the run itself rather than on the client: the command under test exited 0,
/// the run was not cut short. Printed after the expectations and written to JUnit as
/// testcases, so a CI page shows why a run whose expectations all held still failed.
public struct RunCheck: Sendable, Equatable {
    /// `command` or `run`: the testcase's name and the printed line's prefix.
    public let name: String
    /// Whether the run may pass on this check.
    public let passed: Bool
    /// What was seen: `exited with status 1`, `interrupted by SIGTERM (signal 15) before the end`.
    public let message: String
    /// More context for JUnit's `<system-out>`: the command line.
    public let detail: String

    /// A check as printed: `command: exited with status 3 (the run fails)`.
    public var line: String { "\(name): \(message)\(passed ? "" : " (the run fails)")" }

    /// The checks an outcome implies: `command` whenever a command ran, `run` when a signal
    /// interrupted it.
    public static func checks(for outcome: RunOutcome) -> [RunCheck] {
        var checks: [RunCheck] = []
        if let command = outcome.command {
            let message = outcome.commandExit?.description ?? "still running after SIGKILL"
            checks.append(RunCheck(name: "command", passed: outcome.commandExit?.succeeded ?? false,
                                   message: message, detail: command.joined(separator: " ") + ": " + message))
        }
        if let signo = outcome.interruptedBy {
            let message = "interrupted by \(SignalName.of(signo)) before the end"
            checks.append(RunCheck(name: "run", passed: false, message: message, detail: message))
        }
        return checks
    }
}
