import ArgumentParser
import Logging

/// `--log-level` for `proxy`, where each connection's story is worth logging: info by default.
struct LoggingOptions: ParsableArguments {
    @Option(help: "trace, debug (each connection open/close), info, notice, warning (errors), error or critical (default: info).")
    var logLevel: Logger.Level?

    /// Sends swift-log output to stderr at the chosen level (else `defaultLevel`) and returns
    /// the root logger.
    func bootstrap(defaultLevel: Logger.Level = .info) -> Logger {
        LogSetup.bootstrap(level: logLevel ?? defaultLevel)
    }
}

/// `--log-level` for `run`, whose own report says what happens: warning by default. A type of
/// its own because ArgumentParser's help text is fixed per type and each help gives its default.
struct RunLoggingOptions: ParsableArguments {
    @Option(help: "trace, debug (each connection open/close), info, notice, warning (errors), error or critical (default: warning).")
    var logLevel: Logger.Level?

    /// Sends swift-log output to stderr at the chosen level (else warning) and returns the root logger.
    func bootstrap() -> Logger {
        LogSetup.bootstrap(level: logLevel ?? .warning)
    }
}

private enum LogSetup {
    static func bootstrap(level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "faultline")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
