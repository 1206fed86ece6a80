import ArgumentParser
import Logging

/// `--log-level`, shared by every command that runs proxies.
struct LoggingOptions: ParsableArguments {
    @Option(help: "trace, debug (each connection open/close), info, notice, warning (errors), error or critical.")
    var logLevel: Logger.Level = .info

    /// Sends swift-log output to stderr at the chosen level and returns the root logger.
    func bootstrap() -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "faultline")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
