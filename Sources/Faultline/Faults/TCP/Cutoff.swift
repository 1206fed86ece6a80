/// `tcp.cutoff`: what container networks do to long or idle connections — the link ends
/// `after` its start (accept), or after `idle` without a byte either way, with a FIN or an RST,
/// or is dropped silently as a NAT or conntrack entry that expired: nothing passes any more
/// and neither side is told, so a client without a read timeout waits forever.
enum Cutoff {
    static let kind = FaultKind(
        name: "tcp.cutoff",
        summary: "end after a lifetime (after) or a silence (idle): fin, rst, or drop silently",
        parameters: [
            FaultParameter("after", .duration(bareUnit: .milliseconds), default: .duration(.zero),
                           "lifetime from accept; 0 = no lifetime limit"),
            FaultParameter("idle", .duration(bareUnit: .milliseconds), default: .duration(.zero),
                           "silence in both directions; 0 = no idle limit"),
            FaultParameter("how", .choice(["fin", "rst", "drop"]), default: .word("fin"),
                           "fin or rst to both sides, or drop: forward nothing more, tell no one"),
        ],
        example: "tcp.cutoff:after=2s,how=drop",
        defaultDirection: .both,
        check: { fault in
            guard fault.duration("after") > .zero || fault.duration("idle") > .zero else {
                throw ParameterError(parameter: "after", message: "tcp.cutoff needs after or idle (or both) above 0")
            }
        }
    ) { fault, link in
        CutoffEffect(fault: fault, link: link)
    }
}

/// A lifetime timer from the link's accept, and an idle timer that re-arms itself from the
/// link's last activity, so no timer is touched per chunk.
final class CutoffEffect: LinkEffect {
    private unowned let link: Link
    private let live: LiveToken
    private let fault: Fault
    private let lifetime: TimerEffect?
    private var idleTimer: Timer?

    init(fault: Fault, link: Link) {
        self.fault = fault
        self.link = link
        live = LiveToken(.effect, on: link.loop)
        let after = fault.duration("after")
        lifetime = after > .zero
            ? TimerEffect(fault: fault, link: link, ending: Self.ending(fault)) { link in
                after - (ContinuousClock.now - link.openedAt)
            }
            : nil
    }

    /// The lifetime counts from the accept, even while the upstream connect is held.
    func accepted() { lifetime?.attach() }

    func attach() {
        let idle = fault.duration("idle")
        guard idle > .zero else { return }
        idleTimer = Timer(loop: link.loop) { [unowned self] in checkIdle(idle) }
        idleTimer?.schedule(after: idle)
    }

    private func checkIdle(_ idle: Duration) {
        let silent = ContinuousClock.now - link.lastActivity
        guard silent >= idle else { return idleTimer?.schedule(after: idle - silent) ?? () }
        link.cut(Self.ending(fault), by: fault.name)
    }

    private static func ending(_ fault: Fault) -> LinkEnding {
        switch fault.word("how") {
        case "rst": .rst
        case "drop": .drop
        default: .fin
        }
    }

    func detach() {
        lifetime?.detach()
        idleTimer = nil
    }
}
