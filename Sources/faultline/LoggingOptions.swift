import ArgumentParser
import Logging

/// `--log-level`, shared by every command that runs proxies.
struct LoggingOptions: ParsableArguments {
    @Option(help: "trace, debug (each connection open/close), info, notice, warning (errors), error or critical (default: info; warning for run).")
    var logLevel: Logger.Level?

    /// Sends swift-log output to stderr at the chosen level (else `defaultLevel`) and returns
    /// the root logger.
    func bootstrap(defaultLevel: Logger.Level = .info) -> Logger {
        let level = logLevel ?? defaultLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "faultline")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
