/// What one Redis fault does to the commands it matches, read once from its parameters when
/// the fault is added, so deciding per command compares bytes and allocates nothing.
struct RedisRule {
    /// What a matching, selected command meets.
    enum Action {
        /// Answer with this error (the text after `-`); MOVED/ASK carry a node and take the
        /// slot from the command's key.
        case answer(String)
        case redirect(code: String, node: String)
        /// Deliver the reply this long after the command arrived.
        case delay(Duration)
        /// Never answer.
        case hang
        /// Close the connection (with an RST when true).
        case close(reset: Bool)
    }

    let action: Action
    /// Upper-cased command names as bytes; empty: every command.
    private let commands: [[UInt8]]
    private let keys: [UInt8]?
    /// `redis.reject_auth`: matches commands that send credentials, and only those.
    let authOnly: Bool
    /// Without `commands`, spare AUTH, HELLO (`redis.error`, as Redis answers them in the states
    /// its presets describe) and transaction control (an EXEC faultline answered would leave
    /// Redis inside MULTI).
    private let sparesHandshake: Bool
    private static let spared: [[UInt8]] = ["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"].map { Array($0.utf8) }
    /// `first`/`every` count per client address, not per proxy.
    let perClient: Bool

    /// The rule of `fault`, or nil when its kind does not decide per command.
    init?(_ fault: Fault) {
        guard fault.kind.selectsCommands, fault.kind.name.hasPrefix("redis.") else { return nil }
        commands = ParameterType.words(in: fault.word("commands")).map { Array($0.uppercased().utf8) }
        let glob = fault.word("keys")
        keys = glob.isEmpty ? nil : Array(glob.utf8)
        authOnly = fault.kind.name == RedisFaults.rejectAuth.name
        sparesHandshake = fault.kind.name == RedisFaults.error.name && commands.isEmpty
        perClient = fault.word("per") == "client"
        switch fault.kind.name {
        case RedisFaults.delay.name:
            action = .delay(fault.duration("delay"))
        case RedisFaults.hang.name:
            action = .hang
        case RedisFaults.close.name:
            action = .close(reset: fault.word("how") == "rst")
        default:
            let error = fault.word("error")
            if let text = RedisErrorText.text(for: error) {
                action = .answer(text)
            } else {
                action = .redirect(code: error.uppercased(), node: fault.word("to"))
            }
        }
    }

    /// Whether `command` (whose role is `role`) is one this rule acts on.
    func matches(_ command: RESPCommand, role: RedisCommandRole) -> Bool {
        if authOnly { return role.authenticates }
        if commands.isEmpty {
            if sparesHandshake && (role.isHandshake || Self.spared.contains(where: { command.argument(0, equalsUpper: $0) })) {
                return false
            }
        } else if !commands.contains(where: { command.argument(0, equalsUpper: $0) }) {
            return false
        }
        guard let keys else { return true }
        return RedisCommandKeys.indexes(of: command, name: RedisCommandKeys.name(of: command)).contains { index in
            command.argument(index).map { RedisGlob.matches(keys[...], $0) } ?? false
        }
    }
}

/// Redis's glob (stringmatchlen, as KEYS and SCAN MATCH use it): `*`, `?`, `[abc]`, `[^a]`,
/// `[a-z]`, and `\` escaping the next byte. Iterative with backtracking to the last star.
enum RedisGlob {
    static func matches(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0
        var star: (p: Int, t: Int)?
        while ti < t.count {
            if pi < p.count {
                switch p[pi] {
                case UInt8(ascii: "*"):
                    star = (pi, ti)
                    pi += 1
                    continue
                case UInt8(ascii: "?"):
                    pi += 1
                    ti += 1
                    continue
                case UInt8(ascii: "["):
                    if let (matched, next) = bracket(p, from: pi, byte: t[ti]), matched {
                        pi = next
                        ti += 1
                        continue
                    }
                case UInt8(ascii: "\\") where pi + 1 < p.count:
                    if p[pi + 1] == t[ti] {
                        pi += 2
                        ti += 1
                        continue
                    }
                default:
                    if p[pi] == t[ti] {
                        pi += 1
                        ti += 1
                        continue
                    }
                }
            }
            guard let resume = star else { return false }
            star = (resume.p, resume.t + 1)
            pi = resume.p + 1
            ti = resume.t + 1
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// Matches `byte` against the class starting at `p[start]` (`[`); returns whether it
    /// matched and the index after the class, or nil for an unclosed class (then `[` is literal).
    private static func bracket(_ p: [UInt8], from start: Int, byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        let negate = i < p.count && p[i] == UInt8(ascii: "^")
        if negate { i += 1 }
        var matched = false
        var first = true
        while i < p.count && (p[i] != UInt8(ascii: "]") || first) {
            first = false
            if p[i] == UInt8(ascii: "\\") && i + 1 < p.count {
                if p[i + 1] == byte { matched = true }
                i += 2
            } else if i + 2 < p.count && p[i + 1] == UInt8(ascii: "-") && p[i + 2] != UInt8(ascii: "]") {
                let low = min(p[i], p[i + 2]), high = max(p[i], p[i + 2])
                if byte >= low && byte <= high { matched = true }
                i += 3
            } else {
                if p[i] == byte { matched = true }
                i += 1
            }
        }
        guard i < p.count else { return p[start] == byte ? (true, start + 1) : (false, start + 1) }
        return (matched != negate, i + 1)
    }
}
