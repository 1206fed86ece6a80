/// What the proxy's Redis faults decide for one command: the first fault (in the order they
/// were added) that answers, hangs or closes wins; delays add up to the longest.
struct RedisDecision {
    enum Terminal: Equatable {
        case answer(String)
        case hang
        case close(reset: Bool, fault: String)
    }

    private(set) var terminal: Terminal?
    private(set) var delay: (Duration, String)?

    /// No fault acts: forward, undelayed.
    init() {}

    init(session: RedisSession, command: RESPCommand, role: RedisCommandRole) {
        for state in session.proxy.faultStates {
            guard let rule = state.redis, rule.matches(command, role: role), Self.selects(state, rule, session) else { continue }
            let name = state.fault.name
            switch rule.action {
            case .delay(let wait):
                if wait > (delay?.0 ?? .zero) { delay = (wait, name) }
                session.fired(name, "delayed")
            case .answer(let text) where terminal == nil:
                terminal = .answer(text)
                session.fired(name, "answered")
            case .redirect(let code, let node) where terminal == nil:
                // A cluster answers a keyless command itself: only commands with a key move.
                guard let key = RedisCommandKeys.indexes(of: command, name: RedisCommandKeys.name(of: command)).first
                    .flatMap({ command.argument($0) }) else { continue }
                terminal = .answer(RedisErrorText.redirection(code, key: key, to: node))
                session.fired(name, "answered")
            case .hang where terminal == nil:
                terminal = .hang
                session.fired(name, "hung")
            case .close(let reset) where terminal == nil:
                // Fired when the close happens, after the answers owed before it.
                terminal = .close(reset: reset, fault: name)
            default:
                break
            }
        }
    }

    /// `first`, `every` and `probability` over the commands the rule matched: counted over
    /// the proxy or per client address; the coin depends on (seed, fault, link, command).
    private static func selects(_ state: FaultState, _ rule: RedisRule, _ session: RedisSession) -> Bool {
        let ordinal: Int
        if rule.perClient {
            let host = session.host
            ordinal = (state.seenByClient[host] ?? 0) + 1
            state.seenByClient[host] = ordinal
        } else {
            state.seen += 1
            ordinal = state.seen
        }
        let id = session.linkID &* 0x1_0000_0001 ^ session.ordinal
        return FaultSelection.applies(state.fault, ordinal: ordinal, linkID: id, seed: session.proxy.seed)
    }
}
