/// Every number the reports show, by name, formatted once: `ReportText` and `ReportHTML` take
/// their figures from here (the HTML also lists them in its `<script id="figures">` block and
/// marks each with `data-figure="NAME"`), so the two reports cannot disagree.
///
/// Names use indices, not the recording's own names (a proxy may be called `a.b`):
/// `run.duration`, `phase.1.start`, `fault.2.fired.cut`, `proxy.1.phase.2.requests`,
/// `proxy.1.all.p95`, `verdict.3.observed`. Phases, faults, proxies and verdicts count from 1.
struct ReportFigures {
    /// In the order the text report shows them.
    private(set) var list: [(name: String, value: String)] = []
    private var index: [String: String] = [:]

    /// The columns of a traffic row, with their headings.
    static let trafficColumns: [(key: String, heading: String)] = [
        ("attempts", "attempts"), ("requests", "requests"), ("ok", "ok"), ("errors", "error"),
        ("faultline", "faultline"), ("abandoned", "abandoned"), ("failed", "failed"),
        ("p50", "p50"), ("p95", "p95"), ("max", "max"),
    ]
    /// Shown for proxies with requests unanswered at the end.
    static let unfinishedColumn = (key: "unfinished", heading: "unfinished")
    /// TLS columns, shown for proxies that saw handshakes.
    static let tlsColumns: [(key: String, heading: String)] = [("tls_ok", "tls ok"), ("tls_failed", "tls failed")]

    /// A proxy's columns: the traffic ones, `unfinished` when it had such, TLS when it saw handshakes.
    static func columns(_ proxy: ProxySummary) -> [(key: String, heading: String)] {
        trafficColumns + (proxy.total.unfinished > 0 ? [unfinishedColumn] : []) + (proxy.tls ? tlsColumns : [])
    }

    init(_ summary: RecordingSummary) {
        add("run.duration", ReportFormat.time(summary.end))
        add("run.seed", summary.info.seed.map(String.init) ?? "none")
        add("run.events", String(summary.lines.events))
        add("run.bad_lines", String(summary.lines.bad))
        for (number, phase) in zip(1..., summary.phases) {
            add("phase.\(number).start", ReportFormat.time(phase.start))
            add("phase.\(number).end", phase.end.map(ReportFormat.time) ?? "running")
            add("phase.\(number).length", ReportFormat.time((phase.end ?? summary.end) - phase.start))
        }
        for (number, fault) in zip(1..., summary.faults) {
            add("fault.\(number).on", Self.spans(fault, end: summary.end))
            add("fault.\(number).applied", String(fault.applied))
            add("fault.\(number).fired", String(fault.firedTotal))
            for fired in fault.fired { add("fault.\(number).fired.\(fired.action)", String(fired.count)) }
        }
        for (number, proxy) in zip(1..., summary.proxies) {
            let keys = Set(Self.columns(proxy).map(\.key))
            for (phase, counts) in zip(1..., proxy.phases) { addTraffic("proxy.\(number).phase.\(phase)", counts, keys) }
            if !proxy.outside.isEmpty { addTraffic("proxy.\(number).outside", proxy.outside, keys) }
            addTraffic("proxy.\(number).all", proxy.total, keys)
            for (row, handshake) in zip(1..., proxy.handshakes) { add("proxy.\(number).tls.\(row)", String(handshake.count)) }
            for (row, error) in zip(1..., proxy.errors) { add("proxy.\(number).error.\(row)", String(error.count)) }
            for (row, status) in zip(1..., proxy.statuses) { add("proxy.\(number).status.\(row)", String(status.count)) }
            for (row, failure) in zip(1..., proxy.upstreamFailures) {
                add("proxy.\(number).upstream_failed.\(row)", String(failure.count))
            }
        }
        for (number, command) in zip(1..., summary.commands) {
            add("command.\(number).exit", command.exit.map { "\($0) at \(ReportFormat.time(command.exitTime ?? 0))" }
                ?? "still running at the end")
        }
        for (number, verdict) in zip(1..., summary.verdicts) {
            add("verdict.\(number).status", verdict.status.uppercased())
            add("verdict.\(number).observed", verdict.observed)
        }
    }

    /// A figure's value ("?" for a name never added: a renderer's bug, visible rather than fatal).
    subscript(_ name: String) -> String { index[name] ?? "?" }

    private mutating func add(_ name: String, _ value: String) {
        guard index[name] == nil else { return }
        index[name] = value
        list.append((name, value))
    }

    /// A traffic row's figures, of the columns the reports show for its proxy.
    private mutating func addTraffic(_ prefix: String, _ counts: TrafficCounts, _ keys: Set<String>) {
        for (key, value) in Self.traffic(counts) where keys.contains(key) { add("\(prefix).\(key)", value) }
    }

    /// A traffic row's values by column key.
    static func traffic(_ counts: TrafficCounts) -> [(String, String)] {
        let latency = counts.latency
        return [
            ("attempts", String(counts.attempts)), ("requests", String(counts.requests)), ("ok", String(counts.ok)),
            ("errors", String(counts.errors)), ("faultline", String(counts.byFaultline)),
            ("abandoned", String(counts.abandoned)), ("failed", String(counts.failed)),
            ("unfinished", String(counts.unfinished)),
            ("p50", latency.percentile(0.5).map(ReportFormat.latency) ?? "-"),
            ("p95", latency.percentile(0.95).map(ReportFormat.latency) ?? "-"),
            ("max", latency.count > 0 ? ReportFormat.latency(latency.max) : "-"),
            ("tls_ok", String(counts.tlsCompleted)), ("tls_failed", String(counts.tlsFailed)),
        ]
    }

    /// `3.0s–11.0s`, `3.0s–11.0s, 20.0s–end`, or `never on` (a fault seen firing only).
    static func spans(_ fault: RecordingSummary.FaultTrack, end: Int64) -> String {
        guard !fault.spans.isEmpty else { return "never on" }
        return fault.spans.map { "\(ReportFormat.time($0.on))–\($0.off.map(ReportFormat.time) ?? "end")" }
            .joined(separator: ", ")
    }
}

/// How the reports write times and latencies.
enum ReportFormat {
    /// A time on the run's clock: `3.0s`, `125.4s`, `12m05s`, `2h03m`.
    static func time(_ micros: Int64) -> String {
        let value = max(0, micros)
        let tenths = (value + 50_000) / 100_000
        if tenths < 6000 { return "\(tenths / 10).\(tenths % 10)s" }
        let seconds = (value + 500_000) / 1_000_000
        if seconds < 3600 { return "\(seconds / 60)m" + two(seconds % 60) + "s" }
        return "\(seconds / 3600)h" + two(seconds / 60 % 60) + "m"
    }

    /// A latency with three significant digits at most: `345µs`, `3.45ms`, `34.5ms`, `1.20s`.
    static func latency(_ micros: Int64) -> String {
        let value = max(0, micros)
        if value < 1000 { return "\(value)µs" }
        if value < 1_000_000 { return decimal(value, unit: 1000) + "ms" }
        return decimal(value, unit: 1_000_000) + "s"
    }

    /// `value / unit` with 2, 1 or 0 decimals for 3 significant digits.
    private static func decimal(_ value: Int64, unit: Int64) -> String {
        let whole = Double(value) / Double(unit)
        let places = whole < 10 ? 2 : whole < 100 ? 1 : 0
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = (value * scale + unit / 2) / unit
        guard places > 0 else { return String(scaled) }
        let fraction = String(scaled % scale)
        return "\(scaled / scale)." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    private static func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
