import ArgumentParser
import Faultline
import Foundation

/// `faultline ctl scenario start|status|stop`: one scenario played by `faultline serve`.
struct CtlScenario: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract: "Start a scenario on the server, follow it, or stop it.",
        discussion: """
            Examples:
              faultline ctl scenario start scenarios/redis-auth-rejection.yaml
              faultline ctl scenario status
              faultline ctl scenario stop
            """,
        subcommands: [CtlScenarioStart.self, CtlScenarioStatus.self, CtlScenarioStop.self])
}

/// `faultline ctl scenario start FILE`: POST /scenarios with the file.
struct CtlScenarioStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Check a scenario file and start it on the server.",
        discussion: """
            A file that does not check prints every error as FILE:line:col: message (as \
            faultline check does) and exits 2. One scenario plays at a time.
            """)

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The scenario (YAML or JSON).", valueName: "file"))
    var file: String

    @Flag(help: "Print the API's JSON answer instead.")
    var json = false

    @Flag(help: "Wait for the scenario to end, print its verdict and exit as faultline run does (0 passed, 1 failed or stopped).")
    var wait = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            let reason = FileManager.default.fileExists(atPath: file) ? "cannot be read" : "no such file"
            throw InputError(file, reason)
        }
        guard data.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { throw InputError(file, "the file is empty") }
        let type = file.lowercased().hasSuffix(".json") ? "application/json" : "application/yaml"
        try options.perform { client in
            let reply = try client.send("POST", "/scenarios", body: Array(data), contentType: type)
            if reply.status == 400, case .object(let body)? = reply.json, case .array(let errors)? = body["errors"] {
                for case .string(let line) in errors {
                    FaultlineCommand.printError(line.hasPrefix("scenario:") ? file + line.dropFirst("scenario".count) : line)
                }
                throw ExitCode(2)
            }
            guard (200..<300).contains(reply.status) else {
                if reply.status == 409, case .refused(let status, let message, let body) = reply.refusal,
                   message.hasPrefix("scenario ") {
                    throw APIClientError.refused(status: status, message: message + " (or: faultline ctl scenario stop)", body: body)
                }
                throw reply.refusal
            }
            if wait { return try CtlScenarioText.waitAndReport(client, json: json) }
            if json { return CtlOutput.raw(reply) }
            CtlScenarioText.summary(try CtlOutput.object(reply.json, "the scenario's state")).forEach(CtlOutput.line)
        }
    }
}

/// `faultline ctl scenario status`: GET /scenarios/current as a summary.
struct CtlScenarioStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the scenario playing (or the last one's final verdict): state, phase, time, verdicts.",
        discussion: """
            The first line is `scenario NAME: STATE…`; then one line per expectation \
            (PASS, FAIL, ERROR, or PENDING while its window has not come), as faultline run \
            prints them, marked `(so far)` while the scenario plays; once it has ended, the \
            summary line. Exit status: 1 when the scenario ended failed or stopped, else 0; \
            with --wait it first waits for the end (a CI step that started it).
            """)

    @OptionGroup var options: CtlOptions

    @Flag(help: "Print the API's JSON answer (GET /scenarios/current) instead.")
    var json = false

    @Flag(help: "Wait for the scenario to end, then print its verdict.")
    var wait = false

    func run() throws {
        try options.perform { client in
            if wait { return try CtlScenarioText.waitAndReport(client, json: json) }
            let reply = try client.request("GET", "/scenarios/current")
            if json { return CtlOutput.raw(reply) }
            let state = try CtlOutput.object(reply.json, "the scenario's state")
            CtlScenarioText.summary(state).forEach(CtlOutput.line)
            try CtlScenarioText.exitByVerdict(state)
        }
    }
}

/// `faultline ctl scenario stop`: DELETE /scenarios/current.
struct CtlScenarioStop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop the scenario playing now; print its verdict over the time it ran.")

    @OptionGroup var options: CtlOptions

    @Flag(help: "Print the API's JSON answer instead.")
    var json = false

    func run() throws {
        try options.perform { client in
            let reply = try client.request("DELETE", "/scenarios/current")
            if json { return CtlOutput.raw(reply) }
            let state = try CtlOutput.object(reply.json, "the scenario's state")
            CtlScenarioText.summary(state).forEach(CtlOutput.line)
            try CtlScenarioText.exitByVerdict(state)
        }
    }
}

/// `faultline ctl events`: the live event stream, one JSON object a line.
struct CtlEvents: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the server's events as they happen, one JSON object a line, until the server ends the stream.",
        discussion: """
            Examples:
              faultline ctl events --proxy api --kind faultFired --kind connectionOpened
              faultline ctl events | jq -r 'select(.kind == "faultFired") | .fault'
            """)

    @OptionGroup var options: CtlOptions

    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp("Only this proxy's events; repeat for more.", valueName: "proxy"))
    var proxy: [String] = []

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Only events of this kind (faultFired, connectionOpened, …); repeat for more.", valueName: "kind"))
    var kind: [String] = []

    func run() throws {
        let filters = proxy.map { "proxy=\(APIClient.pathSegment($0))" } + kind.map { "kind=\(APIClient.pathSegment($0))" }
        let path = "/events" + (filters.isEmpty ? "" : "?" + filters.joined(separator: "&"))
        try options.perform { client in
            try client.events(path) { event in CtlOutput.line(event.data) }
        }
    }
}

/// A scenario's state (`/scenarios` answers) as lines of text.
enum CtlScenarioText {
    /// `scenario NAME: STATE[, phase P], ELAPSED s of DURATION s, seed N`, the verdict lines,
    /// and the summary once the verdicts are final.
    static func summary(_ state: JSONObject) -> [String] {
        let name = CtlOutput.text(state, "name")
        var head = "scenario \(name): \(CtlOutput.text(state, "state"))"
        if case .string(let phase)? = state["phase"] { head += ", phase \(phase)" }
        head += ", \(number(state["elapsed"])) s of \(number(state["duration"])) s, seed \(number(state["seed"]))"
        var lines = [head]
        var verdicts: [Verdict] = []
        var final = true
        if case .array(let list)? = state["verdicts"] {
            for case .object(let entry) in list {
                let status = CtlOutput.text(entry, "status")
                let label = CtlOutput.text(entry, "label")
                let observed = CtlOutput.text(entry, "observed")
                let word = status.uppercased()
                // A verdict the rest of the scenario can still change says so.
                let soFar = entry["final"] != .bool(true) && status != "pending" ? " (so far)" : ""
                lines.append(word + String(repeating: " ", count: max(0, 5 - word.count)) + " \(label) — \(observed)\(soFar)")
                if entry["final"] != .bool(true) { final = false }
                if let judged = Verdict.Status(rawValue: status) {
                    verdicts.append(Verdict(label: label, kind: CtlOutput.text(entry, "kind"), status: judged, observed: observed))
                }
            }
        }
        if final && CtlOutput.text(state, "state") != "running" {
            lines.append(VerdictReport.summary(verdicts, scenario: name))
        }
        return lines.map(TerminalText.escaped)
    }

    /// Exit 1 for a scenario that ended failed or stopped, as `faultline run` does; 0 else.
    static func exitByVerdict(_ state: JSONObject) throws {
        let ended = CtlOutput.text(state, "state")
        if ended == "failed" || ended == "stopped" { throw ExitCode(1) }
    }

    /// Polls `/scenarios/current` until the scenario is no longer running, then prints it and
    /// exits by its verdict.
    static func waitAndReport(_ client: APIClient, json: Bool) throws {
        while true {
            let reply = try client.request("GET", "/scenarios/current")
            let state = try CtlOutput.object(reply.json, "the scenario's state")
            if CtlOutput.text(state, "state") != "running" {
                if json { CtlOutput.raw(reply) } else { summary(state).forEach(CtlOutput.line) }
                return try exitByVerdict(state)
            }
            usleep(250_000)
        }
    }

    private static func number(_ value: JSONValue?) -> String {
        if case .number(let text)? = value { return text }
        return "?"
    }
}
