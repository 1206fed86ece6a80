/// The effect of a byte-touching fault: one stage on each pipe its direction covers,
/// installed when the link is connected and removed (handing on held bytes) with the fault.
final class StageEffect: LinkEffect {
    private unowned let link: Link
    private let fault: Fault
    private let makeStage: (SplitMix64) -> ByteStage
    private var installed: [(Pipe, ByteStage)] = []

    init(fault: Fault, link: Link, makeStage: @escaping (SplitMix64) -> ByteStage) {
        self.fault = fault
        self.link = link
        self.makeStage = makeStage
    }

    func attach() {
        var random = link.random(for: fault.name)
        for pipe in link.pipes(covering: fault.direction) {
            let stage = makeStage(SplitMix64(seed: random.next()))
            pipe.chain.install(stage)
            installed.append((pipe, stage))
        }
    }

    func detach() {
        installed.forEach { pipe, stage in pipe.chain.remove(stage) }
        installed.removeAll()
    }
}
