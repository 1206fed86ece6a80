import CEvent

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
        StageEffect(fault: fault, link: link) { _ in BandwidthStage(loop: link.loop, bytesPerSecond: fault.count("rate")) }
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
    private let held: OpaquePointer
    private let out: OpaquePointer
    private let loop: EventLoop
    private lazy var timer = Timer(loop: loop) { [unowned self] in release() }

    init(loop: EventLoop, bytesPerSecond: Int) {
        self.loop = loop
        rate = Double(bytesPerSecond)
        burst = max(rate / 100, 1)
        tokens = burst
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
        if !timer.isPending { release() }
    }

    private func release() {
        let now = ContinuousClock.now
        let elapsed = now - refilled
        refilled = now
        let earned = tokens + rate * (Double(elapsed.microseconds) / 1e6)
        tokens = behind ? earned : min(burst, earned)
        let allowed = min(Int(tokens), evbuffer_get_length(held))
        if allowed > 0 {
            tokens -= Double(allowed)
            evbuffer_remove_buffer(held, out, allowed)
        }
        let waiting = evbuffer_get_length(held)
        behind = waiting > 0
        if waiting == 0 { tokens = min(tokens, burst) }
        if waiting > 0 {
            let want = min(Double(waiting), burst) - tokens
            timer.schedule(after: .microseconds(Int64(max(want, 1) / rate * 1e6)))
        }
        if evbuffer_get_length(out) > 0 { next(out) }
    }

    func releaseAll() {
        timer.cancel()
        if evbuffer_get_length(held) > 0 { next(held) }
    }

    func cancel() { timer.cancel() }
}
