/// The Redis fault kinds (proxies with `protocol: redis`). All but `redis.max_clients` act on
/// commands: `first`, `every` and `probability` count and pick matching commands, not
/// connections (see `RedisRule`).
enum RedisFaults {
    static let kinds = [rejectAuth, error, delay, hang, close, maxClients]

    static let commandsParameter = FaultParameter(
        "commands", .list, default: nil,
        "the commands it acts on, any case (YAML: [GET, SET] or under match:; --fault: GET|SET); default every command")
    static let keysParameter = FaultParameter(
        "keys", .text, default: nil,
        "only commands with a key matching this glob (* ? [..] as Redis's KEYS); default any key or none")

    static let rejectAuth = FaultKind(
        name: "redis.reject_auth",
        summary: "answer AUTH, and HELLO with AUTH, with an error instead of authenticating (first: N attempts, then pass)",
        parameters: [
            FaultParameter("error", .text, default: .word("NOAUTH"),
                           "NOAUTH (\"NOAUTH Authentication required.\"), WRONGPASS, another preset code, or the error text"),
            FaultParameter("per", .choice(["proxy", "client"]), default: .word("proxy"),
                           "where first/every count attempts: over the whole proxy, or per client address"),
        ],
        example: "redis.reject_auth:first=3,error=NOAUTH",
        selectsCommands: true,
        check: { fault in
            try checkError(fault)
            let code = fault.word("error").uppercased()
            if RedisErrorText.redirections.contains(code) {
                throw ParameterError(parameter: "error", message: "\(code) sends a client to another node for a key; AUTH has none (use redis.error)")
            }
        }
    ) { _, link in NoEffect(link: link) }

    static let error = FaultKind(
        name: "redis.error",
        summary: "answer matching commands with a Redis error (LOADING, READONLY, OOM, BUSY, MASTERDOWN, CLUSTERDOWN, "
            + "TRYAGAIN, MOVED, ASK or a text); without commands it spares AUTH, HELLO and the transaction commands; "
            + "EXEC cannot be listed",
        parameters: [
            FaultParameter("error", .text, default: nil,
                           "a preset code (\(RedisErrorText.codes.joined(separator: ", "))) or the error text"),
            commandsParameter, keysParameter,
            FaultParameter("to", .text, default: nil, "MOVED and ASK: the node to send the client to, host:port"),
        ],
        example: "redis.error:error=LOADING,commands=GET|SET",
        selectsCommands: true,
        check: { fault in
            guard !fault.word("error").isEmpty else {
                throw ParameterError(parameter: "error", message: "is required by redis.error")
            }
            try checkError(fault)
            let code = fault.word("error").uppercased()
            let redirects = RedisErrorText.redirections.contains(code)
            if redirects && fault.word("to").isEmpty {
                throw ParameterError(parameter: "to", message: "is required by error=\(code): the host:port the client is sent to")
            }
            if ParameterType.words(in: fault.word("commands")).contains(where: { $0.uppercased() == "EXEC" }) {
                throw ParameterError(parameter: "commands", message: "EXEC cannot be answered by faultline: Redis would stay inside "
                    + "the transaction (fault the commands inside it instead: they are answered in place of QUEUED)")
            }
            if !redirects && !fault.word("to").isEmpty {
                throw ParameterError(parameter: "to", message: "only goes with error=MOVED or error=ASK")
            }
            if redirects, !isNode(fault.word("to")) {
                throw ParameterError(parameter: "to", message: "'\(fault.word("to"))' is not host:port with a port from 1 to 65535")
            }
        }
    ) { _, link in NoEffect(link: link) }

    static let delay = FaultKind(
        name: "redis.delay",
        summary: "hold the replies to matching commands: each reaches the client delay after its command reached faultline",
        parameters: [FaultParameter("delay", .duration(bareUnit: .milliseconds), default: nil,
                                    "how long after the command its reply is delivered (bare numbers are ms)"),
                     commandsParameter, keysParameter],
        example: "redis.delay:delay=500ms,commands=GET",
        selectsCommands: true
    ) { _, link in NoEffect(link: link) }

    static let hang = FaultKind(
        name: "redis.hang",
        summary: "never answer a matching command (it is not sent on; nothing after it is answered) until the fault is removed",
        parameters: [commandsParameter, keysParameter],
        example: "redis.hang:commands=BLPOP",
        selectsCommands: true
    ) { _, link in NoEffect(link: link) }

    static let close = FaultKind(
        name: "redis.close",
        summary: "close the connection when a matching command arrives (earlier replies are delivered first; "
            + "the client sees \"Connection closed by server\")",
        parameters: [commandsParameter, keysParameter,
                     FaultParameter("how", .choice(["fin", "rst"]), default: .word("fin"),
                                    "fin = a clean close, rst = \"Connection reset by peer\"")],
        example: "redis.close:commands=GET,every=10",
        selectsCommands: true
    ) { _, link in NoEffect(link: link) }

    /// Redis's text when it turns a connection away at maxclients.
    static let maxClientsText = "ERR max number of clients reached"

    static let maxClients = FaultKind(
        name: "redis.max_clients",
        summary: "turn connections away as Redis does at maxclients: \"-\(maxClientsText)\" then close",
        parameters: [],
        example: "redis.max_clients:first=2"
    ) { _, link in
        ConnectEffect(.respond("-\(maxClientsText)\r\n"), link: link)
    }

    /// `host:port` as Redis Cluster names nodes (the host is not resolved: it is the client's).
    private static func isNode(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]) else { return false }
        return (1...65535).contains(port) && !text.contains(" ")
    }

    private static func checkError(_ fault: Fault) throws {
        if let problem = RedisErrorText.problem(with: fault.word("error")) {
            throw ParameterError(parameter: "error", message: problem)
        }
    }
}

/// The effect of a fault that decides per message, not per connection: nothing per link.
final class NoEffect: LinkEffect {
    private let live: LiveToken
    init(link: Link) { live = LiveToken(.effect, on: link.loop) }
}
