/// `tcp.slow_close`: once a side has closed and everything is written, the FIN waits `delay`.
enum SlowClose {
    static let kind = FaultKind(
        name: "tcp.slow_close",
        summary: "hold the FIN delay after the other side closed",
        parameters: [FaultParameter("delay", .duration(bareUnit: .milliseconds), default: nil, "how long the close waits (bare numbers are ms)")],
        example: "tcp.slow_close:delay=2s",
        directional: true,
        toxiproxy: ToxiproxyName(type: "slow_close", attributes: ["delay": "delay"])
    ) { fault, link in
        PipeSettingEffect(fault: fault, link: link,
                          apply: { $0.finishDelay = fault.duration("delay") },
                          undo: { $0.finishDelay = nil })
    }
}

/// An effect that sets something on each pipe its direction covers, and unsets it.
final class PipeSettingEffect: LinkEffect {
    private unowned let link: Link
    private let live: LiveToken
    private let fault: Fault
    private let apply: (Pipe) -> Void
    private let undo: (Pipe) -> Void

    init(fault: Fault, link: Link, apply: @escaping (Pipe) -> Void, undo: @escaping (Pipe) -> Void) {
        self.fault = fault
        self.link = link
        live = LiveToken(.effect, on: link.loop)
        self.apply = apply
        self.undo = undo
    }

    func attach() { link.pipes(covering: fault.direction).forEach(apply) }
    func detach() { link.pipes(covering: fault.direction).forEach(undo) }
}
