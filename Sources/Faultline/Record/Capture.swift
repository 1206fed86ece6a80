import Glibc

/// `capture.pcapng`: the packets of every captured link, appended in memory on the loop and
/// written by a `BackgroundWriter`.
///
/// One interface per proxy leg (`NAME client`: client ↔ faultline; `NAME upstream`:
/// faultline ↔ upstream), added when the proxy's first link is captured. Packets carry
/// wall-clock nanoseconds from the recording's clock. The capture stops (the file stays a
/// valid pcapng, every block whole) at the first packet past `limit`, when the disk falls
/// `Capture.largestBacklog` behind the traffic, or on a write error; links then go back to
/// the path their faults need.
final class Capture {
    /// 64 MB waiting for the disk: past it, the capture stops instead of growing memory.
    static let largestBacklog = 64 << 20
    /// Packets are handed to the writer in batches of about this many bytes.
    private static let batch = 1 << 20
    let limit: UInt64
    /// Secrets are overwritten in captured bytes.
    let redact: Bool
    private let writer: BackgroundWriter
    private let clock: WallClock
    private unowned let bus: EventBus
    /// The packets not yet handed to the writer. Links append to it directly.
    var out: [UInt8] = []
    private var pcapng = PcapngWriter()
    private var interfaces: [String: (client: UInt32, upstream: UInt32)] = [:]
    private var handedOver: UInt64 = 0
    /// False once the capture stopped: links stop capturing.
    private(set) var active = true
    private var stopReason: String?
    private var reported = false
    /// Told why, when the capture stops at its limit or behind a slow disk (at that moment:
    /// the event's time is the stop's).
    var stopped: ((String) -> Void)?

    /// Creates `path` and writes the section header.
    init(path: String, limit: UInt64, redact: Bool, clock: WallClock, bus: EventBus) throws(RecordingError) {
        // Unredacted, the capture holds passwords: readable by its owner only.
        writer = try BackgroundWriter(path: path, mode: redact ? 0o644 : 0o600)
        self.limit = limit
        self.redact = redact
        self.clock = clock
        self.bus = bus
        out.reserveCapacity(Self.batch * 2)
        pcapng.header(into: &out)
    }

    /// The wall clock now, in nanoseconds since 1970, for packet timestamps.
    var now: UInt64 { UInt64(clamping: clock.nanoseconds(at: bus.now)) }

    /// The interface ids of `proxy`'s two legs, described once.
    func interfaces(for proxy: Proxy) -> (client: UInt32, upstream: UInt32) {
        if let known = interfaces[proxy.name] { return known }
        let client = pcapng.addInterface(name: "\(proxy.name) client",
                                         description: "proxy \(proxy.name): clients ↔ faultline on \(proxy.listenAddress.map { "\($0)" } ?? "?")",
                                         into: &out)
        let upstream = pcapng.addInterface(name: "\(proxy.name) upstream",
                                           description: "proxy \(proxy.name): faultline ↔ upstream \(proxy.upstream)",
                                           into: &out)
        interfaces[proxy.name] = (client, upstream)
        return (client, upstream)
    }

    /// Packets were appended to `out`: stop at the limit, hand a full batch over.
    func appended() {
        if handedOver + UInt64(out.count) >= limit {
            stop("the capture limit of \(limit) bytes was reached (--capture-limit)")
        } else if out.count >= Self.batch {
            flush()
        }
    }

    /// Hands the packets waiting in memory to the writer.
    func flush() {
        guard !out.isEmpty else { return }
        if writer.backlog > Self.largestBacklog {
            stop("the disk fell \(Self.largestBacklog >> 20) MB behind the traffic")
            return
        }
        handedOver += UInt64(out.count)
        writer.submit(&out)
    }

    /// Why the capture stopped, once (then nil): a write error, the limit, a slow disk.
    func takeStopReason() -> String? {
        if stopReason == nil, let code = writer.failure {
            active = false
            stopReason = String(cString: strerror(code))
        }
        guard let stopReason, !reported else { return nil }
        reported = true
        return stopReason
    }

    /// Writes what waits and ends the writer (at most `timeout`).
    func finish(timeout: Duration) {
        flush()
        active = false
        writer.finish(timeout: timeout)
    }

    private func stop(_ reason: String) {
        guard active else { return }
        active = false
        handedOver += UInt64(out.count)
        writer.submit(&out)
        stopReason = reason
        reported = true
        stopped?(reason)
    }
}
