import CEvent

/// `tcp.latency`: every chunk is held `ms` (± `jitter`) from its arrival; order is kept.
enum Latency {
    static let kind = FaultKind(
        name: "tcp.latency",
        summary: "hold every chunk ms (± jitter) from its arrival, keeping order",
        parameters: [
            FaultParameter("ms", .duration(bareUnit: .milliseconds), default: .duration(.zero), "added delay (bare numbers are ms)"),
            FaultParameter("jitter", .duration(bareUnit: .milliseconds), default: .duration(.zero), "uniform ± spread around ms"),
        ],
        example: "tcp.latency:ms=100,jitter=10",
        directional: true,
        touchesBytes: true,
        toxiproxy: ToxiproxyName(type: "latency", attributes: ["latency": "ms", "jitter": "jitter"])
    ) { fault, link in
        StageEffect(fault: fault, link: link) { loop, random in
            LatencyStage(loop: loop, delay: fault.duration("ms"), jitter: fault.duration("jitter"), random: random)
        }
    }
}

/// Holds chunks with a queue of (due time, length) marks, released by one timer.
final class LatencyStage: ByteStage {
    var next: (OpaquePointer) -> Void = { _ in }
    private let delay: Duration
    private let jitter: Duration
    private var random: SplitMix64
    private var marks = MarkQueue()
    private var lastDue = ContinuousClock.now
    private let loop: EventLoop
    private let live: LiveToken
    private lazy var bytes = HeldBytes(loop: loop) { [unowned self] in release() }

    init(loop: EventLoop, delay: Duration, jitter: Duration, random: SplitMix64) {
        self.loop = loop
        live = LiveToken(.stage, on: loop)
        self.delay = delay
        self.jitter = jitter
        self.random = random
    }

    var heldBytes: Int { bytes.count }

    func push(_ data: OpaquePointer) {
        let length = evbuffer_get_length(data)
        guard length > 0 else { return }
        if delay == .zero && jitter == .zero && marks.isEmpty { return next(data) }
        let now = ContinuousClock.now
        lastDue = max(lastDue, now + sampleDelay())
        bytes.hold(data)
        marks.append(due: lastDue, length: length)
        if marks.count == 1 { bytes.timer.schedule(after: lastDue - now) }
    }

    private func sampleDelay() -> Duration {
        guard jitter > .zero else { return delay }
        let spread = jitter.microseconds
        let offset = Int64.random(in: -spread...spread, using: &random)
        return max(.zero, delay + .microseconds(offset))
    }

    private func release() {
        let now = ContinuousClock.now
        while let head = marks.first, head.due <= now {
            marks.removeFirst()
            bytes.pick(head.length)
        }
        if let head = marks.first { bytes.timer.schedule(after: head.due - now) }
        bytes.send(to: next)
    }

    func releaseAll() {
        marks.removeAll()
        bytes.releaseAll(to: next)
    }

    func cancel() { bytes.timer.cancel() }
}

/// A FIFO of (due, length) that reuses its storage: no allocation per chunk once warm.
struct MarkQueue {
    private var items: [(due: ContinuousClock.Instant, length: Int)] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: (due: ContinuousClock.Instant, length: Int)? { isEmpty ? nil : items[head] }

    mutating func append(due: ContinuousClock.Instant, length: Int) {
        if head > 0 && head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        items.append((due, length))
    }

    mutating func removeFirst() { head += 1 }

    mutating func removeAll() {
        items.removeAll(keepingCapacity: true)
        head = 0
    }
}

extension Duration {
    /// Whole microseconds.
    var microseconds: Int64 {
        let (seconds, atto) = components
        return seconds * 1_000_000 + atto / 1_000_000_000_000
    }
}
