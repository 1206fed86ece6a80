import ArgumentParser
import Faultline

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
        subcommands: [ProxyCommand.self])
}
