/// `tcp.reset_peer`: `after` the fault applies, both sides get an RST ("Connection reset by peer").
enum ResetPeer {
    static let kind = FaultKind(
        name: "tcp.reset_peer",
        summary: "reset both sides (RST) after a time",
        parameters: [FaultParameter("after", .duration(bareUnit: .milliseconds), default: .duration(.zero),
                                    "time before the RST, from when the fault applies (bare numbers are ms)")],
        example: "tcp.reset_peer:after=500ms",
        toxiproxy: ToxiproxyName(type: "reset_peer", attributes: ["timeout": "after"])
    ) { fault, link in
        TimerEffect(fault: fault, link: link, ending: .rst) { _ in fault.duration("after") }
    }
}
