/// The effect of a byte-touching fault: one stage on each pipe its direction covers,
/// installed when the link is connected and removed (handing on held bytes) with the fault.
///
/// `makeStage` is handed the loop rather than capturing the link: the link owns this effect,
/// so a closure holding the link would keep every link alive after it closed.
final class StageEffect: LinkEffect {
    private unowned let link: Link
    private let live: LiveToken
    private let fault: Fault
    private let makeStage: (EventLoop, SplitMix64) -> ByteStage
    private var installed: [(Pipe, ByteStage)] = []

    init(fault: Fault, link: Link, makeStage: @escaping (EventLoop, SplitMix64) -> ByteStage) {
        self.fault = fault
        self.link = link
        live = LiveToken(.effect, on: link.loop)
        self.makeStage = makeStage
    }

    func attach() {
        var random = link.random(for: fault.name)
        for pipe in link.pipes(covering: fault.direction) {
            let stage = makeStage(link.loop, SplitMix64(seed: random.next()))
            pipe.chain.install(stage)
            installed.append((pipe, stage))
        }
    }

    func detach() {
        installed.forEach { pipe, stage in pipe.chain.remove(stage) }
        installed.removeAll()
    }
}
