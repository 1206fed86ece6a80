/// `tcp.slicer`: bytes leave in separate writes of about `size` (± `variation`) bytes,
/// `delay` apart — what a client sees from a server that trickles small packets.
enum Slicer {
    static let kind = FaultKind(
        name: "tcp.slicer",
        summary: "send bytes in slices of size ± variation, delay apart",
        parameters: [
            FaultParameter("size", .bytes, default: nil, "average slice size"),
            FaultParameter("variation", .bytes, default: .count(0), "uniform ± spread of the slice size"),
            FaultParameter("delay", .duration(bareUnit: .microseconds), default: .duration(.zero),
                           "pause between slices (bare numbers are µs, as Toxiproxy's)"),
        ],
        example: "tcp.slicer:size=64,variation=32,delay=1ms",
        directional: true,
        touchesBytes: true,
        toxiproxy: ToxiproxyName(type: "slicer", attributes: ["average_size": "size", "size_variation": "variation", "delay": "delay"]),
        check: { fault in
            let size = fault.count("size")
            guard size > 0 else { throw ParameterError(parameter: "size", message: "must be at least 1") }
            // A spread of size or more would ask for empty or negative slices.
            guard fault.count("variation") < size else {
                throw ParameterError(parameter: "variation", message: "'\(fault.count("variation"))' must be below size (\(size)): "
                                     + "every slice holds at least 1 byte")
            }
        }
    ) { fault, link in
        StageEffect(fault: fault, link: link) { loop, random in
            SlicerStage(loop: loop, size: fault.count("size"), variation: fault.count("variation"),
                        delay: fault.duration("delay"), random: random)
        }
    }
}

/// Hands on one slice at a time; each reaches the pipe, which writes it before the next.
final class SlicerStage: ByteStage {
    var next: (OpaquePointer) -> Void = { _ in }
    private let size: Int
    private let variation: Int
    private let delay: Duration
    private var random: SplitMix64
    private let loop: EventLoop
    private let live: LiveToken
    private lazy var bytes = HeldBytes(loop: loop) { [unowned self] in sendSlices() }

    init(loop: EventLoop, size: Int, variation: Int, delay: Duration, random: SplitMix64) {
        self.loop = loop
        live = LiveToken(.stage, on: loop)
        self.size = size
        self.variation = min(variation, size - 1)
        self.delay = delay
        self.random = random
    }

    var heldBytes: Int { bytes.count }

    func push(_ data: OpaquePointer) {
        bytes.hold(data)
        if !bytes.timer.isPending { sendSlices() }
    }

    /// Without a delay every slice goes now, each as its own write; with one, one per tick.
    private func sendSlices() {
        repeat {
            let length = size + (variation > 0 ? Int.random(in: -variation...variation, using: &random) : 0)
            bytes.pick(length)
            bytes.send(to: next)
        } while delay == .zero && bytes.count > 0
        if bytes.count > 0 { bytes.timer.schedule(after: delay) }
    }

    func releaseAll() { bytes.releaseAll(to: next) }

    func cancel() { bytes.timer.cancel() }
}
