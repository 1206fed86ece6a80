import Glibc

/// Shows a run as it happens on stderr: a live view redrawn five times a second on a
/// terminal, or one plain line per event worth reading (phase, fault, command) otherwise.
public final class RunReporter {
    private let status = RunStatus()
    private let scenario: String
    private let totalDuration: Duration
    private let live: Bool
    private let proxies: [Proxy]
    private var drawnLines = 0
    /// Each proxy's route, kept from when it listened (the listener is gone at the last draw).
    private var routes: [String: String] = [:]
    private var timer: Timer?
    private let clock: () -> Duration

    /// Reports the run of `scenario` on `bus`; `live` picks the terminal view.
    public init(scenario: String, proxies: [Proxy], timeline: Timeline, bus: EventBus, loop: EventLoop, live: Bool) {
        self.scenario = scenario
        self.totalDuration = timeline.totalDuration
        self.live = live
        self.proxies = proxies.sorted { $0.name < $1.name }
        self.clock = { timeline.elapsed }
        bus.subscribe { [unowned self] event in
            status.observe(event)
            if !live, let line = Self.line(for: event) { write("\(Self.clockText(event.time)) \(line)\n") }
        }
        if live {
            timer = Timer(loop: loop) { [unowned self] in
                draw()
                timer?.schedule(after: .milliseconds(200))
            }
            timer?.schedule(after: .zero)
        }
    }

    /// Draws the final state once and stops redrawing.
    public func finish() {
        guard live else { return }
        timer = nil
        draw()
    }

    /// The plain line for an event, or nil when it is not worth a line.
    static func line(for event: Event) -> String? {
        let on = event.proxy.map { " [\($0)]" } ?? ""
        switch event.kind {
        case .phaseStarted(let name): return "phase \(name) started"
        case .phaseEnded(let name): return "phase \(name) ended"
        case .faultOn(let name, let kind): return "fault \(name) (\(kind)) on\(on)"
        case .faultOff(let name, let kind): return "fault \(name) (\(kind)) off\(on)"
        case .commandStarted(let command, let pid): return "command started (pid \(pid)): \(command)"
        case .commandExited(let status): return "command exited with status \(status)"
        case .listening(let address): return "listening on \(address)\(on)"
        default: return nil
        }
    }

    private func draw() {
        let elapsed = clock()
        let fraction = totalDuration > .zero ? min(1, elapsed / totalDuration) : 1
        let width = 40
        let filled = Int(fraction * Double(width))
        var lines = [
            "faultline ▸ \(scenario)   phase: \(status.phase ?? "—")   \(Self.clockText(elapsed)) / \(Self.clockText(totalDuration))",
            "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "] \(Int(fraction * 100))%",
        ]
        for proxy in proxies {
            let counts = status.proxies[proxy.name] ?? RunStatus.ProxyCounts()
            let rate = status.connectionsPerSecond(proxy.name, at: status.now)
            if routes[proxy.name] == nil, let listen = proxy.listenAddress {
                routes[proxy.name] = "\(listen) → \(proxy.upstream)"
            }
            let route = routes[proxy.name] ?? "→ \(proxy.upstream)"
            lines.append("\(proxy.name)  \(route)   conns \(counts.open) open / \(counts.total) total   \(rate)/s   "
                         + "faults applied \(counts.faultsApplied), fired \(counts.faultsFired)")
        }
        let up = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        write(up + lines.map { "\u{1B}[2K" + $0 + "\n" }.joined())
        drawnLines = lines.count
    }

    private static func clockText(_ time: Duration) -> String {
        let tenths = Int(time / .milliseconds(100))
        let seconds = tenths / 10
        return format2(seconds / 60) + ":" + format2(seconds % 60) + "." + String(tenths % 10)
    }

    private static func format2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private func write(_ text: String) {
        _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}
