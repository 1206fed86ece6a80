/// An effect that ends the link when a timer fires; removing the fault cancels the timer.
final class TimerEffect: LinkEffect {
    private unowned let link: Link
    private let live: LiveToken
    private let fault: Fault
    private let due: (Link) -> Duration
    private let ending: LinkEnding
    private var timer: Timer?

    /// `due` is asked at attach time for how long from now the link should end.
    init(fault: Fault, link: Link, ending: LinkEnding, due: @escaping (Link) -> Duration) {
        self.fault = fault
        self.link = link
        live = LiveToken(.effect, on: link.loop)
        self.ending = ending
        self.due = due
    }

    func attach() {
        timer = Timer(loop: link.loop) { [unowned self] in link.cut(ending, by: fault.name) }
        timer?.schedule(after: max(.zero, due(link)))
    }

    func detach() { timer = nil }
}
