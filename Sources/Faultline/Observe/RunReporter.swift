import Glibc

/// Shows a run as it happens on stderr: a live view redrawn five times a second on a
/// terminal, or one plain line per event worth reading (phase, fault, command, a signal's
/// stop) otherwise.
///
/// The live view owns the bottom lines of the terminal, as cargo or docker compose do: the
/// command's output (read from its pty, see `CommandTerminal`) is printed line by line above
/// the view, which is then drawn again below it, so nothing the command says is overdrawn.
public final class RunReporter {
    /// Redraws per second: smooth enough for a progress bar, cheap on a terminal.
    private static let redraw: Duration = .milliseconds(200)
    /// A partial line longer than this is shown without waiting for its end.
    private static let longestPartialLine = 4096

    private let status = RunStatus()
    private let scenario: String
    private let totalDuration: Duration
    private let live: Bool
    private let proxies: [Proxy]
    private let bus: EventBus
    private var drawnLines = 0
    /// Each proxy's route, kept from when it listened (the listener is gone at the last draw).
    private var routes: [String: String] = [:]
    private var timer: Timer?
    private let clock: () -> Duration
    /// The command's output after its last line break, held until the line is complete.
    private var partialLine: [UInt8] = []
    /// Whether `partialLine` already waited through one redraw: a prompt or a progress
    /// message without a line break is shown on the next.
    private var partialLineWaited = false

    /// Reports the run of `scenario` on `bus`; `live` picks the terminal view.
    public init(scenario: String, proxies: [Proxy], timeline: Timeline, bus: EventBus, loop: EventLoop, live: Bool) {
        self.scenario = scenario
        self.totalDuration = timeline.totalDuration
        self.live = live
        self.bus = bus
        self.proxies = proxies.sorted { $0.name < $1.name }
        self.clock = { timeline.elapsed }
        bus.subscribe { [unowned self] event in
            status.observe(event)
            if !live, let line = Self.line(for: event) {
                write(Array("\(Self.clockText(event.time)) \(TerminalText.escaped(line))\n".utf8))
            }
            // Why the run goes on after a Ctrl-C must show at once, above the view.
            if live, case .stopping = event.kind, let line = Self.line(for: event) {
                draw(above: Array("\(line)\n".utf8))
            }
        }
        if live {
            timer = Timer(loop: loop) { [unowned self] in
                let waitedLine = partialLineWaited ? takePartialLine() : []
                partialLineWaited = !partialLine.isEmpty
                draw(above: waitedLine)
                timer?.schedule(after: Self.redraw)
            }
            timer?.schedule(after: .zero)
        }
    }

    /// Output of the command under test, in live mode: complete lines go above the view at
    /// once, byte for byte (its colours included); the rest waits for its line break.
    public func showCommandOutput(_ bytes: [UInt8]) {
        partialLine += bytes
        var above: [UInt8] = []
        if let lastBreak = partialLine.lastIndex(of: UInt8(ascii: "\n")) {
            above = Array(partialLine[...lastBreak])
            partialLine.removeFirst(lastBreak + 1)
            partialLineWaited = false
        }
        if partialLine.count > Self.longestPartialLine { above += takePartialLine() }
        if !above.isEmpty { draw(above: above) }
    }

    /// Shows what is left of the command's output, draws the final state once and stops redrawing.
    public func finish() {
        guard live else { return }
        timer = nil
        draw(above: takePartialLine())
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
        case .commandExited(let exit): return "command \(exit)"
        case .stopping(let signo, let group, let killAfter):
            let name = SignalName.short(signo)
            guard let group else { return "\(name): stopping the run" }
            guard killAfter > .zero else { return "\(name): killing the command (process group \(group)) now" }
            return "\(name): stopping the command (process group \(group)): SIGTERM now, "
                + "SIGKILL in \(DurationText.format(killAfter)); signal again to kill it now"
        case .listening(let address): return "listening on \(address)\(on)"
        case .recordingStopped(let file, let reason): return "recording: \(file) stopped: \(reason)"
        default: return nil
        }
    }

    /// The partial line, ended, for showing before its line break came.
    private func takePartialLine() -> [UInt8] {
        guard !partialLine.isEmpty else { return [] }
        defer { partialLine = [] }
        partialLineWaited = false
        return partialLine + [UInt8(ascii: "\n")]
    }

    /// Erases the view, prints `above` (the command's complete lines) where it was, and
    /// draws the view again below, in one write so the terminal never shows it half drawn.
    private func draw(above: [UInt8] = []) {
        let elapsed = clock()
        let fraction = totalDuration > .zero ? min(1, elapsed / totalDuration) : 1
        let width = 40
        let filled = Int(fraction * Double(width))
        var lines = [
            "faultline ▸ \(scenario)   phase: \(status.phase ?? "—")   \(Self.clockText(elapsed)) / \(Self.clockText(totalDuration))",
            "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "] \(Int(fraction * 100))%",
        ]
        let now = bus.now
        for proxy in proxies {
            let counts = status.proxies[proxy.name] ?? RunStatus.ProxyCounts()
            let connections = status.connectionsPerSecond(proxy.name, at: now)
            let requests = status.requestsPerSecond(proxy.name, at: now)
            if routes[proxy.name] == nil, let listen = proxy.listenAddress {
                routes[proxy.name] = "\(listen) → \(proxy.upstream)"
            }
            let route = routes[proxy.name] ?? "→ \(proxy.upstream)"
            lines.append("\(proxy.name)  \(route)   conns \(counts.open) open / \(counts.total) total   \(connections) conn/s   "
                         + "\(requests) req/s   "
                         + "faults applied \(counts.faultsApplied), fired \(counts.faultsFired)")
        }
        // A line wider than the terminal would wrap onto a row the next redraw does not erase.
        let columns = Self.terminalColumns()
        let shown = lines.map { line -> String in
            let safe = TerminalText.escaped(line)
            return columns > 1 && safe.count >= columns ? String(safe.prefix(columns - 1)) : safe
        }
        // Up to the view's first row, then erase from there to the end of the screen.
        let erase = drawnLines > 0 ? "\u{1B}[\(drawnLines)A\r\u{1B}[J" : ""
        write(Array(erase.utf8) + above + Array(shown.map { $0 + "\n" }.joined().utf8))
        drawnLines = shown.count
    }

    private static func terminalColumns() -> Int {
        var size = winsize()
        return ioctl(2, UInt(TIOCGWINSZ), &size) == 0 ? Int(size.ws_col) : 0
    }

    private static func clockText(_ time: Duration) -> String {
        let tenths = Int(time / .milliseconds(100))
        let seconds = tenths / 10
        return format2(seconds / 60) + ":" + format2(seconds % 60) + "." + String(tenths % 10)
    }

    private static func format2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private func write(_ bytes: [UInt8]) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            rest = rest.dropFirst(written)
        }
    }
}
