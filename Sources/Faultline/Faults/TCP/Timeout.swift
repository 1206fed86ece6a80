/// `tcp.timeout`: a blackhole. Nothing is read (bytes wait in the kernel, the sender's window
/// fills), and `after` the link closes; with `after=0` it never closes, and removing the fault
/// lets the waiting bytes flow.
enum Timeout {
    static let kind = FaultKind(
        name: "tcp.timeout",
        summary: "forward nothing; close after a time, or never with after=0",
        parameters: [FaultParameter("after", .duration(bareUnit: .milliseconds), default: .duration(.zero),
                                    "time before the close; 0 = never (bare numbers are ms)")],
        example: "tcp.timeout:after=5s",
        directional: true,
        defaultDirection: .both,
        toxiproxy: ToxiproxyName(type: "timeout", attributes: ["timeout": "after"])
    ) { fault, link in
        BlackholeEffect(fault: fault, link: link)
    }
}

/// Pauses the covered pipes and, when `after` is set, ends the link with a FIN then.
final class BlackholeEffect: LinkEffect {
    private let pause: PipeSettingEffect
    private let close: TimerEffect?
    private let live: LiveToken

    init(fault: Fault, link: Link) {
        live = LiveToken(.effect, on: link.loop)
        pause = PipeSettingEffect(fault: fault, link: link, apply: { $0.paused = true }, undo: { $0.paused = false })
        let after = fault.duration("after")
        close = after > .zero ? TimerEffect(fault: fault, link: link, ending: .fin) { _ in after } : nil
    }

    func attach() {
        pause.attach()
        close?.attach()
    }

    func detach() {
        close?.detach()
        pause.detach()
    }
}
