import CEvent

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
            guard fault.count("size") > 0 else { throw ParameterError(parameter: "size", message: "must be at least 1") }
        }
    ) { fault, link in
        StageEffect(fault: fault, link: link) { random in
            SlicerStage(loop: link.loop, size: fault.count("size"), variation: fault.count("variation"),
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
    private let held: OpaquePointer
    private let out: OpaquePointer
    private let loop: EventLoop
    private lazy var timer = Timer(loop: loop) { [unowned self] in sendSlices() }

    init(loop: EventLoop, size: Int, variation: Int, delay: Duration, random: SplitMix64) {
        self.loop = loop
        self.size = size
        self.variation = min(variation, size - 1)
        self.delay = delay
        self.random = random
        held = evbuffer_new()
        out = evbuffer_new()
    }

    deinit {
        evbuffer_free(held)
        evbuffer_free(out)
    }

    var heldBytes: Int { evbuffer_get_length(held) }

    func push(_ data: OpaquePointer) {
        evbuffer_add_buffer(held, data)
        if !timer.isPending { sendSlices() }
    }

    /// Without a delay every slice goes now, each as its own write; with one, one per tick.
    private func sendSlices() {
        repeat {
            let length = size + (variation > 0 ? Int.random(in: -variation...variation, using: &random) : 0)
            evbuffer_remove_buffer(held, out, length)
            next(out)
        } while delay == .zero && evbuffer_get_length(held) > 0
        if evbuffer_get_length(held) > 0 { timer.schedule(after: delay) }
    }

    func releaseAll() {
        timer.cancel()
        if evbuffer_get_length(held) > 0 { next(held) }
    }

    func cancel() { timer.cancel() }
}
