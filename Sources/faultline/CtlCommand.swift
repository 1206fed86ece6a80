import ArgumentParser
import Faultline
import Foundation

/// `faultline ctl`: a client of the control API for scripts, with toxiproxy-cli's commands,
/// names and output, plus faultline's own endpoints (scenarios, events, metrics).
struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Drive a running faultline serve (or run --api) from scripts, as toxiproxy-cli does.",
        discussion: """
            Every subcommand talks to the control API at --api (else $FAULTLINE_API, else \
            127.0.0.1:8474), with --token (else $FAULTLINE_API_TOKEN) as the bearer token.

            Exit status: 0 done; 1 the API refused (its message on stderr, as \
            `HTTP 404: proxy not found`); 2 bad input, or the API could not be reached.

            Examples:
              faultline ctl create redis --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379
              faultline ctl toxic add redis -t latency -a latency=300
              faultline ctl list
              faultline ctl scenario start scenarios/redis-auth-rejection.yaml
              faultline ctl events --kind faultFired
            """,
        subcommands: [CtlList.self, CtlInspect.self, CtlCreate.self, CtlToggle.self, CtlDelete.self, CtlToxic.self,
                      CtlReset.self, CtlScenario.self, CtlEvents.self, CtlMetrics.self])

    /// Accepted before the subcommand too (`faultline ctl --api ADDR list`), as toxiproxy-cli's `--host`.
    @OptionGroup var options: CtlOptions
}

/// `--api`, `--token` and `--timeout`, shared by every `ctl` subcommand.
struct CtlOptions: ParsableArguments {
    @Option(parsing: .unconditional,
            help: ArgumentHelp("The control API: host:port, [v6]:port or http://host:port (default: $FAULTLINE_API, else 127.0.0.1:8474).",
                               valueName: "addr"))
    var api: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Send Authorization: Bearer TOKEN (default: $FAULTLINE_API_TOKEN).", valueName: "token"))
    var token: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("How long to wait for the connection and for each part of an answer (default: 5s).",
                               valueName: "duration"))
    var timeout: String?

    /// The client these options describe; a bad address or timeout is the user's to fix (exit 2).
    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let (text, source) = api.map { ($0, "--api") }
            ?? environment["FAULTLINE_API"].flatMap { $0.isEmpty ? nil : ($0, "FAULTLINE_API") }
            ?? ("127.0.0.1:8474", "--api")
        let address: SocketAddress
        do { address = try APIClient.address(text) } catch { throw InputError(source, error) }
        var wait = Duration.seconds(5)
        if let timeout {
            do { wait = try DurationText.parse(timeout) } catch { throw InputError("--timeout", error) }
            guard wait > .zero else { throw InputError("--timeout", "'\(timeout)' is not above 0, e.g. 500ms or 10s") }
        }
        let bearer = token ?? environment["FAULTLINE_API_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return APIClient(address: address, token: bearer, timeout: wait)
    }

    /// Runs `body` with a client; an API refusal exits 1 with its message, anything else that
    /// keeps the request from being answered exits 2.
    func perform(_ body: (APIClient) throws -> Void) throws {
        let client = try client()
        do {
            try body(client)
        } catch let error as APIClientError {
            throw CtlFailure.exit(error, tokenGiven: client.token != nil)
        }
    }
}

/// How a `ctl` request that failed ends the process.
enum CtlFailure {
    /// Prints `faultline: MESSAGE` and returns the exit status to throw.
    static func exit(_ message: String, status: Int32) -> ExitCode {
        FaultlineCommand.printError("faultline: \(message)")
        return ExitCode(status)
    }

    /// Exit 1 for an API refusal (HTTP 4xx/5xx), 2 for an unreachable API or a bad answer.
    static func exit(_ error: APIClientError, tokenGiven: Bool) -> ExitCode {
        guard case .refused(let status, _, _) = error else { return exit(error.description, status: 2) }
        var message = error.description
        if status == 401 {
            message += tokenGiven ? " (the token given is not the API's)" : " (pass --token or set FAULTLINE_API_TOKEN)"
        }
        return exit(message, status: 1)
    }
}

/// Output shared by the subcommands.
enum CtlOutput {
    /// Writes `line` and a newline to stdout at once (scripts read it as it comes).
    static func line(_ line: String) {
        print(line)
        fflush(nil)
    }

    /// The API's JSON answer as sent (`--json`), on one line.
    static func raw(_ reply: APIClientReply) {
        var text = String(decoding: reply.body, as: UTF8.self)
        while text.last?.isNewline == true { text.removeLast() }
        line(text)
    }

    /// The answer's JSON object, or a bad-reply error naming what was asked.
    static func object(_ value: JSONValue?, _ what: String) throws -> JSONObject {
        guard case .object(let object)? = value else {
            throw APIClientError.badReply("\(what) is not a JSON object")
        }
        return object
    }

    /// A text member, or "" when absent.
    static func text(_ object: JSONObject, _ key: String) -> String {
        if case .string(let text)? = object[key] { return text }
        return ""
    }

    /// A value as toxiproxy-cli prints it (Go's fmt): numbers as written, text bare,
    /// lists and objects as JSON.
    static func show(_ value: JSONValue) -> String {
        switch value {
        case .number(let text): return text
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .array, .object: return value.text
        }
    }
}
