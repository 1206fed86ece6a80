import ArgumentParser
import Faultline
import Glibc

/// The `faultline` command: a fault-injection proxy for TCP, Redis, HTTP and TLS.
@main
struct FaultlineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faultline",
        abstract: "Fault-injection proxy: put it between a service and its dependencies and play failures.",
        discussion: """
            Examples:
              faultline proxy --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379
            """,
        version: FaultlineVersion.current,
        subcommands: [ProxyCommand.self, FaultsCommand.self, CheckCommand.self, RunCommand.self, CertsCommand.self,
                      ServeCommand.self, CtlCommand.self, ReplayCommand.self, ReportCommand.self])

    /// Like ArgumentParser's main, but bad input exits 2 (SPEC: 0 ok, 1 expectation failed,
    /// 2 bad input) instead of EX_USAGE, so scripts can tell it from a failed run.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as InputError {
            printError("faultline: \(error.message)")
            Glibc.exit(2)
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            printError(fullMessage(for: error))
            Glibc.exit(2)
        }
    }

    /// Writes one line to stderr.
    static func printError(_ message: String) {
        let line = message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}

/// Input the user must fix (an address, a duration, a fault); exits 2 with its message.
struct InputError: Error {
    /// What is wrong, naming the flag or value.
    let message: String

    /// A library error or a reason, prefixed with the flag it is about.
    init(_ flag: String, _ reason: Any) {
        message = "\(flag): \(reason)"
    }
}
