import ArgumentParser
import Faultline

/// `faultline ctl toxic add|update|remove`: a proxy's toxics, with toxiproxy-cli's flags.
struct CtlToxic: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toxic",
        abstract: "Add, update or remove a toxic (a fault) on a proxy.",
        discussion: """
            Toxiproxy's types (latency, bandwidth, slow_close, timeout, reset_peer, slicer, \
            limit_data) and faultline's fault kinds (`faultline faults` lists them, with their \
            parameters) are both toxic types; parameters are attributes.

            Attribute values: numbers are sent as JSON numbers, true and false as booleans, \
            anything else as text (-a latency=300, -a status=404, -a path=/api/v2/*).

            Examples:
              faultline ctl toxic add api -t latency -a latency=300 -a jitter=50
              faultline ctl toxic add api -t http.respond -n not-found -a status=404 -a path=/v2/*
              faultline ctl toxic update api -n latency_downstream -a latency=100
              faultline ctl toxic remove api -n latency_downstream
            """,
        subcommands: [CtlToxicAdd.self, CtlToxicUpdate.self, CtlToxicRemove.self],
        aliases: ["t"])
}

/// `faultline ctl toxic add NAME --type T …`.
struct CtlToxicAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a toxic to a proxy.", aliases: ["a"])

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The proxy.", valueName: "proxy"))
    var proxy: String

    @Option(name: [.long, .short], parsing: .unconditional,
            help: ArgumentHelp("The toxic's type: latency, bandwidth, … or a faultline fault kind (http.respond, …).",
                               valueName: "type"))
    var type: String

    @Option(name: [.customLong("toxic-name"), .customLong("toxicName"), .customShort("n")], parsing: .unconditional,
            help: ArgumentHelp("The toxic's name (default: TYPE_STREAM, e.g. latency_downstream).", valueName: "name"))
    var toxicName: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("upstream (client to server), downstream (server to client) or both (default: downstream "
                               + "for Toxiproxy's types, the kind's own for faultline's).", valueName: "stream"))
    var stream: String?

    @Flag(name: [.customLong("upstream"), .customShort("u")], help: "Same as --stream upstream.")
    var upstream = false

    @Flag(name: [.customLong("downstream"), .customShort("d")], help: "Same as --stream downstream.")
    var downstream = false

    @Option(name: [.customLong("toxicity"), .customLong("tox")], parsing: .unconditional,
            help: ArgumentHelp("The share of connections it applies to, 0 to 1 (default: 1).", valueName: "fraction"))
    var toxicity: String?

    @Option(name: [.customLong("attribute"), .customShort("a")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("An attribute as key=value; repeat for more.", valueName: "key=value"))
    var attributes: [String] = []

    func run() throws {
        var body = JSONObject()
        if let toxicName { body["name"] = .string(toxicName) }
        body["type"] = .string(type)
        let streams = [stream, upstream ? "upstream" : nil, downstream ? "downstream" : nil].compactMap { $0 }
        if streams.count > 1 {
            throw InputError("--stream", "give one of --stream, --upstream (-u) and --downstream (-d), not \(streams.count)")
        }
        if let chosen = streams.first { body["stream"] = .string(chosen) }
        if let toxicity { body["toxicity"] = try CtlToxicValues.toxicity(toxicity) }
        body["attributes"] = .object(try CtlToxicValues.attributes(attributes))
        try options.perform { client in
            let path = "/proxies/\(APIClient.pathSegment(proxy))/toxics"
            let toxic = try CtlOutput.object(try client.json("POST", path, body: .object(body)), "the new toxic")
            CtlOutput.line("Added \(CtlOutput.text(toxic, "stream")) \(CtlOutput.text(toxic, "type")) toxic "
                           + "'\(CtlOutput.text(toxic, "name"))' on proxy '\(proxy)'")
        }
    }
}

/// `faultline ctl toxic update NAME --toxic-name N …`: attributes merged, toxicity replaced.
struct CtlToxicUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change a toxic's attributes (the others keep their values) or toxicity.",
        aliases: ["u"])

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The proxy.", valueName: "proxy"))
    var proxy: String

    @Option(name: [.customLong("toxic-name"), .customLong("toxicName"), .customShort("n")], parsing: .unconditional,
            help: ArgumentHelp("The toxic to change.", valueName: "name"))
    var toxicName: String

    @Option(name: [.customLong("toxicity"), .customLong("tox")], parsing: .unconditional,
            help: ArgumentHelp("The new share of connections it applies to, 0 to 1 (default: unchanged).",
                               valueName: "fraction"))
    var toxicity: String?

    @Option(name: [.customLong("attribute"), .customShort("a")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("An attribute to change, as key=value; repeat for more.", valueName: "key=value"))
    var attributes: [String] = []

    func run() throws {
        guard toxicity != nil || !attributes.isEmpty else {
            throw InputError("toxic update", "nothing to change: give --attribute key=value or --toxicity")
        }
        var body = JSONObject()
        if !attributes.isEmpty { body["attributes"] = .object(try CtlToxicValues.attributes(attributes)) }
        if let toxicity { body["toxicity"] = try CtlToxicValues.toxicity(toxicity) }
        try options.perform { client in
            let path = "/proxies/\(APIClient.pathSegment(proxy))/toxics/\(APIClient.pathSegment(toxicName))"
            try client.json("PATCH", path, body: .object(body))
            CtlOutput.line("Updated toxic '\(toxicName)' on proxy '\(proxy)'")
        }
    }
}

/// `faultline ctl toxic remove NAME --toxic-name N`.
struct CtlToxicRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a toxic from a proxy.", aliases: ["r", "delete", "d"])

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The proxy.", valueName: "proxy"))
    var proxy: String

    @Option(name: [.customLong("toxic-name"), .customLong("toxicName"), .customShort("n")], parsing: .unconditional,
            help: ArgumentHelp("The toxic to remove.", valueName: "name"))
    var toxicName: String

    func run() throws {
        try options.perform { client in
            try client.request("DELETE", "/proxies/\(APIClient.pathSegment(proxy))/toxics/\(APIClient.pathSegment(toxicName))")
            CtlOutput.line("Removed toxic '\(toxicName)' on proxy '\(proxy)'")
        }
    }
}

/// Flag values of `toxic add` and `toxic update`.
enum CtlToxicValues {
    /// `-a key=value …` as a JSON object: JSON numbers as numbers, `true`/`false` as booleans,
    /// anything else as text.
    static func attributes(_ items: [String]) throws -> JSONObject {
        var object = JSONObject()
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw InputError("--attribute", "'\(item)' is not key=value, e.g. -a latency=300")
            }
            let key = String(item[..<equals])
            let text = String(item[item.index(after: equals)...])
            if object[key] != nil { throw InputError("--attribute", "\(key) is given twice") }
            object[key] = value(text)
        }
        return object
    }

    /// An attribute's value: a JSON number exactly as written, a boolean, a list written as
    /// scenarios write one (`[GET, SET]`, sent as a JSON list of words), or text.
    static func value(_ text: String) -> JSONValue {
        if text == "true" || text == "false" { return .bool(text == "true") }
        if text.hasPrefix("["), text.hasSuffix("]") {
            let words = text.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return .array(words.filter { !$0.isEmpty }.map { .string($0) })
        }
        if case .number(let number)? = try? JSONParser.parse(text), number == text { return .number(text) }
        return .string(text)
    }

    /// `--toxicity`: a number (the API checks that it is from 0 to 1).
    static func toxicity(_ text: String) throws -> JSONValue {
        guard let value = Double(text), value.isFinite else {
            throw InputError("--toxicity", "'\(text)' is not a number from 0 to 1, e.g. 0.5")
        }
        if case .number(let number)? = try? JSONParser.parse(text), number == text { return .number(number) }
        return .number(String(value))
    }
}
