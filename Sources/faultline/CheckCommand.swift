import ArgumentParser
import Faultline
import Glibc

/// `faultline check FILE…`: validates scenario files without running them. Every mistake in
/// every file is printed as `file:line:col: message` (the format editors and CI annotate), so
/// one run shows everything to fix.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate scenario files; print every error as file:line:col: message.",
        discussion: """
            Exits 0 when every file is valid (one summary line each), 2 when any is not.

            Examples:
              faultline check scenarios/*.yaml
            """)

    @Argument(help: ArgumentHelp("Scenario files to check.", valueName: "file"))
    var files: [String]

    func run() throws {
        var failed = false
        for file in files {
            do {
                let scenario = try ScenarioLoader.load(path: file)
                print("\(file): ok — \(scenario.summary)")
            } catch {
                failed = true
                error.issues.forEach { printError($0.description) }
            }
        }
        // Bad input exits 2, as SPEC's commands do; the messages are already printed.
        if failed { throw ExitCode(2) }
    }

    private func printError(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
