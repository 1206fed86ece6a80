/// The faults of one proxy. Adding or removing one takes effect on live links at once; the
/// scenario timeline and the control API both come through here.
extension Proxy {
    /// The faults active now, in the order they were added.
    public var faults: [Fault] { faultStates.map(\.fault) }

    /// Refuses a fault the proxy's layers cannot carry: `redis.*` needs `protocol: redis`,
    /// `tls.*` needs `tls:`. Callers may check before anything starts (`faultline proxy`).
    public static func checkLayer(_ fault: Fault, options: ProxyOptions, proxy name: String) throws {
        if fault.kind.name.hasPrefix("redis."), options.protocol != .redis {
            throw FaultSpecError(text: fault.kind.name, reason: "acts on Redis commands, and proxy '\(name)' speaks \(options.protocol.rawValue) (give it protocol: redis in a scenario, --protocol redis on faultline proxy)")
        }
        if fault.kind.name.hasPrefix("http."), options.protocol != .http {
            throw FaultSpecError(text: fault.kind.name, reason: "acts on HTTP requests, and proxy '\(name)' speaks \(options.protocol.rawValue) (give it protocol: http in a scenario, --protocol http on faultline proxy)")
        }
        if fault.kind.name.hasPrefix("tls."), options.tls == nil {
            throw FaultSpecError(text: fault.kind.name, reason: "acts on TLS handshakes, and proxy '\(name)' does not terminate TLS (give it tls: in a scenario, --tls-profile on faultline proxy)")
        }
    }

    /// Activates `fault` on new links and, where it applies, on every open link.
    public func add(_ fault: Fault) throws {
        guard !faultStates.contains(where: { $0.fault.name == fault.name }) else {
            throw FaultSpecError(text: fault.name, reason: "a fault with this name is already active on proxy \(name)")
        }
        try Self.checkLayer(fault, options: options, proxy: name)
        if fault.kind.name.hasPrefix("tls.") {
            if let profile = CertificateProfile(rawValue: fault.word("profile")) { try serverTLS?.prepare(profile) }
        }
        let state = FaultState(fault: fault)
        faultStates.append(state)
        if state.redis != nil || state.http != nil { commandFaults += 1 }
        log.info("fault \(fault.name) (\(fault.kind.name)) on")
        bus.emit(.faultOn(name: fault.name, kind: fault.kind.name), proxy: self.name)
        if fault.kind.closesListener(fault) { suspendListening() }
        for link in links.values.sorted(by: { $0.id < $1.id }) {
            select(state, for: link)
            if state.http != nil { link.session?.faultAdded(state) }
        }
    }

    /// Deactivates the fault called `name`; returns false when there is none.
    @discardableResult
    public func removeFault(named name: String) -> Bool {
        guard let index = faultStates.firstIndex(where: { $0.fault.name == name }) else { return false }
        let removed = faultStates.remove(at: index)
        if removed.redis != nil || removed.http != nil { commandFaults -= 1 }
        let fault = removed.fault
        log.info("fault \(fault.name) (\(fault.kind.name)) off")
        bus.emit(.faultOff(name: fault.name, kind: fault.kind.name), proxy: self.name)
        links.values.forEach { $0.removeEffect(for: name) }
        if fault.kind.selectsCommands { links.values.forEach { $0.session?.faultRemoved(name) } }
        if fault.kind.closesListener(fault), !faults.contains(where: { $0.kind.closesListener($0) }) {
            resumeListening()
        }
        return true
    }

    /// Whether a fault acting on messages (Redis commands, HTTP requests) is active: a link
    /// then decides each one.
    var hasCommandFaults: Bool { commandFaults > 0 }

    /// Removes every fault.
    public func removeAllFaults() {
        faults.forEach { removeFault(named: $0.name) }
    }

    /// Decides whether each active fault applies to a newly accepted link.
    func selectFaults(for link: Link) {
        faultStates.forEach { select($0, for: link) }
    }

    private func select(_ state: FaultState, for link: Link) {
        // Command faults pick commands as they come (see RedisDecision), not connections.
        guard !state.fault.kind.selectsCommands else { return }
        state.seen += 1
        guard FaultSelection.applies(state.fault, ordinal: state.seen, linkID: link.id, seed: seed) else { return }
        bus.emit(.faultApplied(name: state.fault.name, kind: state.fault.kind.name), proxy: name, link: link.id)
        link.add(state.fault.kind.effect(state.fault, link), for: state.fault.name)
    }
}

/// An active fault and how many connections (or, for command faults, matching commands) it
/// has seen, for `first` and `every`.
final class FaultState {
    let fault: Fault
    var seen = 0
    /// Command faults with `per: client`: matching commands seen per client address.
    var seenByClient: [String: Int] = [:]
    /// What a command fault does, read once from its parameters.
    let redis: RedisRule?
    /// What an HTTP fault does, read once from its parameters.
    let http: HTTPRule?

    init(fault: Fault) {
        self.fault = fault
        redis = RedisRule(fault)
        http = HTTPRule(fault)
    }
}
