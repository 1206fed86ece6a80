/// `tcp.bandwidth`: a token bucket lets `rate` bytes per second through.
enum Bandwidth {
    static let kind = FaultKind(
        name: "tcp.bandwidth",
        summary: "limit throughput to rate bytes per second (token bucket)",
        parameters: [FaultParameter("rate", .rate, default: nil, "bytes per second: 100 (KB/s), 500KB, 2MB")],
        example: "tcp.bandwidth:rate=100KB",
        directional: true,
        touchesBytes: true,
        toxiproxy: ToxiproxyName(type: "bandwidth", attributes: ["rate": "rate"])
    ) { fault, link in
        StageEffect(fault: fault, link: link) { loop, _ in BandwidthStage(loop: loop, bytesPerSecond: fault.count("rate")) }
    }
}

/// Releases held bytes as tokens accrue; a timer wakes it when roughly 10 ms of tokens (or
/// what is held, if less) have accrued, so writes are neither tiny nor bursty.
final class BandwidthStage: ByteStage {
    var next: (OpaquePointer) -> Void = { _ in }
    private let rate: Double
    private let burst: Double
    private var tokens: Double
    private var refilled = ContinuousClock.now
    /// Bytes have waited since the last refill: a late timer must not cost them their tokens.
    private var behind = false
    private let loop: EventLoop
    private let live: LiveToken
    private lazy var bytes = HeldBytes(loop: loop) { [unowned self] in release() }

    init(loop: EventLoop, bytesPerSecond: Int) {
        self.loop = loop
        live = LiveToken(.stage, on: loop)
        rate = Double(bytesPerSecond)
        burst = max(rate / 100, 1)
        tokens = burst
    }

    var heldBytes: Int { bytes.count }

    func push(_ data: OpaquePointer) {
        bytes.hold(data)
        if !bytes.timer.isPending { release() }
    }

    private func release() {
        let now = ContinuousClock.now
        let elapsed = now - refilled
        refilled = now
        let earned = tokens + rate * (Double(elapsed.microseconds) / 1e6)
        tokens = behind ? earned : min(burst, earned)
        let allowed = min(Int(tokens), bytes.count)
        if allowed > 0 {
            tokens -= Double(allowed)
            bytes.pick(allowed)
        }
        let waiting = bytes.count
        behind = waiting > 0
        if waiting == 0 { tokens = min(tokens, burst) }
        if waiting > 0 {
            let want = min(Double(waiting), burst) - tokens
            bytes.timer.schedule(after: .microseconds(Int64(max(want, 1) / rate * 1e6)))
        }
        bytes.send(to: next)
    }

    func releaseAll() { bytes.releaseAll(to: next) }

    func cancel() { bytes.timer.cancel() }
}
