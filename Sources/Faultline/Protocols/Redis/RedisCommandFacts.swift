/// What faultline needs to know about a Redis command besides its bytes: whether it changes
/// how the connection's replies are read (HELLO, SUBSCRIBE, MONITOR, CLIENT REPLY), whether it
/// authenticates, and which of its arguments are keys.
enum RedisCommandRole: Equatable {
    case plain
    /// `AUTH [user] password`.
    case auth
    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`: `version` when given, `auth` when
    /// it carries credentials.
    case hello(version: Int?, auth: Bool)
    /// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: under RESP2 the connection then carries messages,
    /// not replies; under RESP3 they are answered with pushes.
    case subscribe
    /// MONITOR, and CLIENT REPLY OFF|SKIP: replies stop matching commands one to one.
    case stream

    /// Classifies `command` from its captured arguments, without allocating.
    static func of(_ command: RESPCommand) -> RedisCommandRole {
        guard let name = command.argument(0) else { return .plain }
        switch name.count {
        case 4 where command.isNamed("AUTH"):
            return .auth
        case 5 where command.isNamed("HELLO"):
            let version = command.argument(1).flatMap { Int(String(decoding: $0, as: UTF8.self)) }
            return .hello(version: version, auth: helloAuthenticates(command))
        case 9 where command.isNamed("SUBSCRIBE"), 10 where command.isNamed("PSUBSCRIBE"),
             10 where command.isNamed("SSUBSCRIBE"):
            return .subscribe
        case 7 where command.isNamed("MONITOR"):
            return .stream
        case 6 where command.isNamed("CLIENT"):
            let off = command.argumentEquals(1, caseInsensitive: "REPLY")
                && (command.argumentEquals(2, caseInsensitive: "OFF") || command.argumentEquals(2, caseInsensitive: "SKIP"))
            return off ? .stream : .plain
        default:
            return .plain
        }
    }

    /// Whether HELLO's options (after the version, read in Redis's order: `AUTH user pass`
    /// takes two values, `SETNAME name` one) include AUTH: `HELLO 3 SETNAME AUTH` names the
    /// client "AUTH" and sends no credentials.
    private static func helloAuthenticates(_ command: RESPCommand) -> Bool {
        var index = 2
        while index < command.argumentCount {
            if command.argumentEquals(index, caseInsensitive: "AUTH") { return true }
            index += command.argumentEquals(index, caseInsensitive: "SETNAME") ? 2 : 1
        }
        return false
    }

    /// UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE (plain commands by role): outside a RESP2
    /// subscription stream each channel they name gets its own answer, one when they name none.
    static func unsubscribes(_ command: RESPCommand) -> Bool {
        command.isNamed("UNSUBSCRIBE") || command.isNamed("PUNSUBSCRIBE") || command.isNamed("SUNSUBSCRIBE")
    }

    /// Commands clients send as they open a connection besides AUTH and HELLO (redis-py 8:
    /// CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS; SELECT for a database): like HELLO, their
    /// answers open the way for the client's work rather than answer it.
    static func setsUpConnection(_ command: RESPCommand) -> Bool {
        if command.isNamed("SELECT") { return true }
        return command.isNamed("CLIENT") && (command.argumentEquals(1, caseInsensitive: "SETNAME")
            || command.argumentEquals(1, caseInsensitive: "SETINFO")
            || command.argumentEquals(1, caseInsensitive: "MAINT_NOTIFICATIONS"))
    }

    /// AUTH or HELLO: the commands that set a connection up.
    var isHandshake: Bool {
        switch self {
        case .auth, .hello: true
        default: false
        }
    }

    /// Whether the command sends credentials (AUTH, HELLO … AUTH): `redis.reject_auth` acts
    /// on these, and their arguments never appear in events.
    var authenticates: Bool {
        switch self {
        case .auth: true
        case .hello(_, let auth): auth
        default: false
        }
    }
}

/// Where a command's keys are, as Redis's key specs place them for the common commands; any
/// other command is taken to have its key first, as most do.
enum RedisCommandKeys {
    private enum Layout {
        case none
        case first
        case all
        /// `MSET k v k v`.
        case everyOther
        /// `BLPOP k1 k2 timeout`.
        case allButLast
        /// `EVAL script numkeys k1 k2 …`: the key count at this argument, the keys after it.
        case counted(at: Int)
        /// `ZUNIONSTORE dest numkeys k1 k2 …`: a key, then a counted list.
        case destinationAndCounted
        /// `BITOP op dest src …`: every argument from the second on.
        case fromSecond
        /// `OBJECT ENCODING key`, `MEMORY USAGE key`.
        case second
        /// `XREAD … STREAMS k1 k2 id1 id2`.
        case streams
    }

    private static let layouts: [String: Layout] = {
        var table: [String: Layout] = [:]
        for name in ["AUTH", "HELLO", "PING", "ECHO", "SELECT", "INFO", "CONFIG", "CLIENT", "CLUSTER", "COMMAND",
                     "DBSIZE", "FLUSHALL", "FLUSHDB", "MULTI", "EXEC", "DISCARD", "UNWATCH", "QUIT", "RESET",
                     "SAVE", "BGSAVE", "BGREWRITEAOF", "LASTSAVE", "TIME", "ROLE", "SLOWLOG", "MONITOR",
                     "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
                     "PUBLISH", "PUBSUB", "SCRIPT", "FUNCTION", "KEYS", "SCAN", "RANDOMKEY", "WAIT",
                     "LATENCY", "DEBUG", "SHUTDOWN", "SWAPDB", "ACL", "REPLICAOF", "SLAVEOF", "SYNC", "PSYNC",
                     "FAILOVER", "MODULE", "READONLY", "READWRITE", "ASKING", "LOLWUT", "MIGRATE"] {
            table[name] = Layout.none
        }
        for name in ["DEL", "UNLINK", "EXISTS", "TOUCH", "WATCH", "MGET", "SINTER", "SUNION", "SDIFF", "PFCOUNT",
                     "PFMERGE", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE", "RENAME", "RENAMENX", "COPY",
                     "SMOVE", "RPOPLPUSH", "LMOVE", "BLMOVE", "BRPOPLPUSH"] {
            table[name] = .all
        }
        table["MSET"] = .everyOther
        table["MSETNX"] = .everyOther
        for name in ["BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"] { table[name] = .allButLast }
        for name in ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"] { table[name] = .counted(at: 2) }
        for name in ["LMPOP", "ZMPOP", "SINTERCARD", "ZINTERCARD", "ZUNION", "ZINTER", "ZDIFF"] { table[name] = .counted(at: 1) }
        for name in ["BLMPOP", "BZMPOP"] { table[name] = .counted(at: 2) }
        for name in ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"] { table[name] = .destinationAndCounted }
        table["BITOP"] = .fromSecond
        table["XINFO"] = .second
        table["XGROUP"] = .second
        table["OBJECT"] = .second
        table["MEMORY"] = .second
        table["XREAD"] = .streams
        table["XREADGROUP"] = .streams
        return table
    }()

    /// The indexes of `command`'s key arguments among those captured (`name` is its
    /// upper-cased name).
    static func indexes(of command: RESPCommand, name: String) -> [Int] {
        let captured = command.capturedCount
        guard captured > 1 else { return [] }
        switch layouts[name] ?? .first {
        case .none:
            return []
        case .first:
            return [1]
        case .all:
            return Array(1..<captured)
        case .everyOther:
            return Array(stride(from: 1, to: captured, by: 2))
        case .allButLast:
            return Array(1..<max(1, min(captured, command.argumentCount - 1)))
        case .second:
            return captured > 2 ? [2] : []
        case .counted(let at):
            return counted(command, at: at)
        case .destinationAndCounted:
            return [1] + counted(command, at: 2)
        case .fromSecond:
            return captured > 2 ? Array(2..<captured) : []
        case .streams:
            guard let marker = (1..<captured).first(where: { command.argumentEquals($0, caseInsensitive: "STREAMS") })
            else { return [] }
            let keys = (command.argumentCount - marker - 1) / 2
            return Array((marker + 1)..<min(captured, marker + 1 + keys))
        }
    }

    /// The keys after a key count at argument `at` (those captured).
    private static func counted(_ command: RESPCommand, at: Int) -> [Int] {
        guard let text = command.argument(at), let count = Int(String(decoding: text, as: UTF8.self)),
              count > 0, count <= Int(Int32.max), at + 1 < command.capturedCount else { return [] }
        return Array((at + 1)..<min(command.capturedCount, at + 1 + count))
    }

    /// The upper-cased name of `command` (its first argument).
    static func name(of command: RESPCommand) -> String {
        guard let bytes = command.argument(0) else { return "" }
        // Written in place (a name fits a small string: no allocation); invalid UTF-8 is repaired.
        return String(unsafeUninitializedCapacity: bytes.count) { text in
            for (offset, byte) in bytes.enumerated() { text[offset] = byte >= 97 && byte <= 122 ? byte - 32 : byte }
            return bytes.count
        }
    }

    /// `indexes(of:name:).first` without building the list for the usual layouts: every
    /// command a recorded or judged run sees goes through here.
    static func firstKey(of command: RESPCommand, name: String) -> Int? {
        let captured = command.capturedCount
        guard captured > 1 else { return nil }
        switch layouts[name] ?? .first {
        case .none: return nil
        case .first, .all, .everyOther, .destinationAndCounted: return 1
        case .allButLast: return min(captured, command.argumentCount - 1) > 1 ? 1 : nil
        case .second, .fromSecond: return captured > 2 ? 2 : nil
        default: return indexes(of: command, name: name).first
        }
    }

    /// How the command appears in events and facts: its name, then its first key if it has
    /// one (`GET session:42`), or for HELLO its protocol version. Credentials never appear:
    /// AUTH shows as `AUTH`, HELLO with credentials as `HELLO 3 AUTH`.
    static func detail(of command: RESPCommand, role: RedisCommandRole) -> String {
        let name = name(of: command)
        switch role {
        case .auth:
            return name
        case .hello(let version, let auth):
            return [name, version.map(String.init), auth ? "AUTH" : nil].compactMap { $0 }.joined(separator: " ")
        default:
            guard let key = firstKey(of: command, name: name), let bytes = command.argument(key) else { return name }
            // One allocation: name, space, at most 128 bytes of the key, and … when cut.
            let shown = bytes.prefix(128)
            let cut = bytes.count > 128 || command.isTruncated(key)
            let ellipsis: [UInt8] = cut ? [0xE2, 0x80, 0xA6] : []
            var head = name
            return head.withUTF8 { nameBytes in
                String(unsafeUninitializedCapacity: nameBytes.count + 1 + shown.count + ellipsis.count) { text in
                    var end = 0
                    for byte in nameBytes { text[end] = byte; end += 1 }
                    text[end] = UInt8(ascii: " ")
                    end += 1
                    for byte in shown { text[end] = byte; end += 1 }
                    for byte in ellipsis { text[end] = byte; end += 1 }
                    return end
                }
            }
        }
    }
}

extension RESPCommand {
    /// Whether argument `index` was captured whole and equals `upper` ignoring ASCII case.
    func argument(_ index: Int, equalsUpper upper: [UInt8]) -> Bool {
        guard let bytes = argument(index), bytes.count == upper.count, !isTruncated(index) else { return false }
        return zip(bytes, upper).allSatisfy { ($0 >= 97 && $0 <= 122 ? $0 - 32 : $0) == $1 }
    }
}
