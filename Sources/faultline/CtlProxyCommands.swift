import ArgumentParser
import Faultline
import Foundation

/// `faultline ctl list`: one line per proxy, as toxiproxy-cli prints them off a terminal.
struct CtlList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the proxies: NAME, LISTEN, UPSTREAM, enabled|disabled, TOXICS (count), PROTOCOL.",
        discussion: """
            Tab-separated, one proxy a line in name order, as toxiproxy-cli prints them off a \
            terminal (with a PROTOCOL column added); a header line only on a terminal.
            """,
        aliases: ["l", "li", "ls"])

    @OptionGroup var options: CtlOptions

    @Flag(help: "Print the API's JSON answer (GET /proxies) instead.")
    var json = false

    func run() throws {
        try options.perform { client in
            let reply = try client.request("GET", "/proxies")
            if json { return CtlOutput.raw(reply) }
            let proxies = try CtlOutput.object(reply.json, "the proxy list")
            if isatty(1) != 0 { CtlOutput.line("NAME\tLISTEN\tUPSTREAM\tENABLED\tTOXICS\tPROTOCOL") }
            for member in proxies.members {
                CtlOutput.line(CtlProxyText.line(try CtlOutput.object(member.value, "proxy \(member.key)")))
            }
        }
    }
}

/// `faultline ctl inspect NAME`: the proxy's line, then one line per toxic.
struct CtlInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show one proxy and its toxics.",
        discussion: """
            The first line is the proxy as `list` prints it; then one line per toxic, upstream \
            ones first, as toxiproxy-cli prints them: \
            NAME<tab>type=T<tab>stream=S<tab>toxicity=1.00<tab>attributes=[<tab>k=v<tab>…<tab>]
            """,
        aliases: ["i", "ins"])

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The proxy.", valueName: "name"))
    var name: String

    @Flag(help: "Print the API's JSON answer (GET /proxies/NAME) instead.")
    var json = false

    func run() throws {
        try options.perform { client in
            let reply = try client.request("GET", "/proxies/\(APIClient.pathSegment(name))")
            if json { return CtlOutput.raw(reply) }
            let proxy = try CtlOutput.object(reply.json, "proxy \(name)")
            CtlOutput.line(CtlProxyText.line(proxy))
            if case .array(let toxics)? = proxy["toxics"] {
                for toxic in toxics { CtlOutput.line(CtlProxyText.toxic(try CtlOutput.object(toxic, "a toxic of \(name)"))) }
            }
        }
    }
}

/// `faultline ctl create NAME --listen ADDR --upstream ADDR`.
struct CtlCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a proxy (enabled).",
        discussion: """
            Without --listen the API picks a free port on 127.0.0.1; the line printed says which.

            Examples:
              faultline ctl create redis -l 127.0.0.1:16379 -u 127.0.0.1:6379 --protocol redis
            """,
        aliases: ["c", "new"])

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The proxy's name.", valueName: "name"))
    var name: String

    @Option(name: [.long, .short], parsing: .unconditional,
            help: ArgumentHelp("Listen here: host:port or [v6]:port (default: 127.0.0.1 and a free port).", valueName: "addr"))
    var listen: String?

    @Option(name: [.long, .short], parsing: .unconditional,
            help: ArgumentHelp("Forward to this host:port.", valueName: "addr"))
    var upstream: String

    @Option(name: .customLong("protocol"), parsing: .unconditional,
            help: ArgumentHelp("tcp, redis or http (default: tcp).", valueName: "protocol"))
    var proxyProtocol: String?

    func run() throws {
        var body = JSONObject(["name": .string(name)])
        if let listen { body["listen"] = .string(listen) }
        body["upstream"] = .string(upstream)
        body["enabled"] = .bool(true)
        if let proxyProtocol { body["protocol"] = .string(proxyProtocol) }
        try options.perform { client in
            let proxy = try CtlOutput.object(try client.json("POST", "/proxies", body: .object(body)), "the new proxy")
            CtlOutput.line("Created new proxy \(name) listening on \(CtlOutput.text(proxy, "listen"))")
        }
    }
}

/// `faultline ctl toggle NAME`: enables a disabled proxy, disables an enabled one.
struct CtlToggle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toggle",
        abstract: "Disable an enabled proxy (its listener closes, its connections end), or enable a disabled one.",
        aliases: ["tog"])

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The proxy.", valueName: "name"))
    var name: String

    func run() throws {
        let path = "/proxies/\(APIClient.pathSegment(name))"
        try options.perform { client in
            let proxy = try CtlOutput.object(try client.json("GET", path), "proxy \(name)")
            let enabled = proxy["enabled"] == .bool(true)
            let now = try CtlOutput.object(try client.json("POST", path, body: .object(JSONObject(["enabled": .bool(!enabled)]))),
                                           "proxy \(name)")
            CtlOutput.line("Proxy \(name) is now \(now["enabled"] == .bool(true) ? "enabled" : "disabled")")
        }
    }
}

/// `faultline ctl delete NAME`.
struct CtlDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a proxy (its listener closes, its connections end).", aliases: ["d"])

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The proxy.", valueName: "name"))
    var name: String

    func run() throws {
        try options.perform { client in
            try client.request("DELETE", "/proxies/\(APIClient.pathSegment(name))")
            CtlOutput.line("Deleted proxy \(name)")
        }
    }
}

/// `faultline ctl reset`: every proxy enabled, every toxic removed (POST /reset).
struct CtlReset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Enable every proxy and remove every toxic (proxies stay).")

    @OptionGroup var options: CtlOptions

    func run() throws {
        try options.perform { client in
            try client.request("POST", "/reset", body: [])
            CtlOutput.line("Reset: every proxy enabled, every toxic removed")
        }
    }
}

/// `faultline ctl metrics`: the Prometheus text of GET /metrics.
struct CtlMetrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Print the API's metrics (Prometheus text format).")

    @OptionGroup var options: CtlOptions

    func run() throws {
        try options.perform { client in
            let reply = try client.request("GET", "/metrics")
            FileHandle.standardOutput.write(Data(reply.body))
        }
    }
}

/// Proxies and toxics as lines of text.
enum CtlProxyText {
    /// `NAME<tab>LISTEN<tab>UPSTREAM<tab>enabled|disabled<tab>TOXICS<tab>PROTOCOL`.
    static func line(_ proxy: JSONObject) -> String {
        var toxics = 0
        if case .array(let list)? = proxy["toxics"] { toxics = list.count }
        let protocolName = CtlOutput.text(proxy, "protocol")
        return [CtlOutput.text(proxy, "name"), CtlOutput.text(proxy, "listen"), CtlOutput.text(proxy, "upstream"),
                proxy["enabled"] == .bool(true) ? "enabled" : "disabled", String(toxics),
                protocolName.isEmpty ? "tcp" : protocolName].joined(separator: "\t")
    }

    /// `NAME<tab>type=T<tab>stream=S<tab>toxicity=0.50<tab>attributes=[<tab>k=v<tab>]`, the
    /// attributes by name, as toxiproxy-cli prints a toxic.
    static func toxic(_ toxic: JSONObject) -> String {
        var toxicity = 1.0
        if case .number(let text)? = toxic["toxicity"], let value = Double(text) { toxicity = value }
        var attributes: [(String, String)] = []
        if case .object(let object)? = toxic["attributes"] {
            attributes = object.members.map { ($0.key, CtlOutput.show($0.value)) }.sorted { $0.0 < $1.0 }
        }
        let shown = attributes.map { "\t\($0.0)=\($0.1)" }.joined()
        return "\(CtlOutput.text(toxic, "name"))\ttype=\(CtlOutput.text(toxic, "type"))\tstream=\(CtlOutput.text(toxic, "stream"))"
            + "\ttoxicity=\(String(format: "%.2f", toxicity))\tattributes=[\(shown)\t]"
    }
}
