/// `tcp.down`: the dependency is down. `refuse` closes the port (connects get ECONNREFUSED),
/// `reset` accepts then sends an RST, `close` accepts then sends a FIN.
enum Down {
    static let kind = FaultKind(
        name: "tcp.down",
        summary: "the port refuses connects, or accepts and resets or closes them",
        parameters: [FaultParameter("mode", .choice(["refuse", "reset", "close"]), default: .word("refuse"),
                                    "refuse = ECONNREFUSED, reset = accept then RST, close = accept then FIN")],
        example: "tcp.down:mode=reset",
        check: { fault in
            if fault.word("mode") == "refuse" && fault.selects {
                throw ParameterError(parameter: "mode", message: "refuse closes the whole port, so first, every and probability cannot pick connections; use mode=reset or mode=close")
            }
        },
        closesListener: { $0.word("mode") == "refuse" }
    ) { fault, link in
        ConnectEffect(fault.word("mode") == "refuse" ? .proceed : .reject(reset: fault.word("mode") == "reset"), link: link)
    }
}

/// `tcp.connect_delay`: the upstream connect starts `delay` after the accept.
enum ConnectDelay {
    static let kind = FaultKind(
        name: "tcp.connect_delay",
        summary: "hold the upstream connect for delay",
        parameters: [FaultParameter("delay", .duration(bareUnit: .milliseconds), default: nil, "how long the connect waits (bare numbers are ms)")],
        example: "tcp.connect_delay:delay=3s"
    ) { fault, link in
        ConnectEffect(.delay(fault.duration("delay")), link: link)
    }
}

/// `tcp.refuse_upstream`: the client is accepted, then closed, as when the upstream's port is closed.
enum RefuseUpstream {
    static let kind = FaultKind(
        name: "tcp.refuse_upstream",
        summary: "close accepted clients as if the upstream refused the connect",
        parameters: [],
        example: "tcp.refuse_upstream:first=3"
    ) { _, link in
        ConnectEffect(.refuse, link: link)
    }
}

/// An effect that only decides what happens at connect time.
final class ConnectEffect: LinkEffect {
    private let decision: ConnectDecision
    private let live: LiveToken

    init(_ decision: ConnectDecision, link: Link) {
        self.decision = decision
        live = LiveToken(.effect, on: link.loop)
    }

    func beforeConnect() -> ConnectDecision { decision }
}
