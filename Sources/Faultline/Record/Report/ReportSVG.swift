import Glibc

/// The inline SVG charts of report.html, on one time axis: every chart is 1200 units wide with
/// the same gutter for labels, so a phase boundary falls at the same x in all of them.
///
/// Every text from the recording goes through `ReportHTML.escape`.
struct ReportSVG {
    let summary: RecordingSummary
    /// The run's length shown, in microseconds (at least a second).
    let end: Int64
    static let width = 1200.0
    static let gutter = 190.0
    static let plot = width - gutter - 16

    init(_ summary: RecordingSummary) {
        self.summary = summary
        // Up to the end of the last bucket, so its bar fits.
        let width = max(1, summary.bucketWidth)
        end = max(1_000_000, (summary.end + width - 1) / width * width)
    }

    func x(_ micros: Int64) -> Double { Self.gutter + Double(min(max(0, micros), end)) / Double(end) * Self.plot }

    /// Whether `phase` has faults of its own (a fault on and off within it, give or take
    /// 100 ms): such phases get warm colours. Faults of the whole run leave every phase calm.
    func phaseHasFault(_ phase: RecordingSummary.Phase) -> Bool {
        let phaseEnd = phase.end ?? summary.end
        return summary.faults.contains { fault in
            fault.spans.contains { $0.on >= phase.start - 100_000 && $0.on < phaseEnd && ($0.off ?? summary.end) <= phaseEnd + 100_000 }
        }
    }

    /// Fill and ink of phase `index`: greens and blues for calm phases, reds and ambers for faulty ones.
    func phaseColours(_ index: Int) -> (fill: String, ink: String) {
        let calm = [("#d9f2e3", "#1d6b3f"), ("#dbeafe", "#1e4e8c"), ("#e6f4ea", "#285e3a")]
        let faulty = [("#fde0dc", "#9b1c1c"), ("#fdebc8", "#8a5300"), ("#f6dcef", "#7d1d63")]
        guard summary.phases.indices.contains(index) else { return calm[0] }
        let previous = summary.phases[..<index].filter { phaseHasFault($0) == phaseHasFault(summary.phases[index]) }.count
        let palette = phaseHasFault(summary.phases[index]) ? faulty : calm
        return palette[previous % palette.count]
    }

    // MARK: Timeline

    /// Phases as bands across the top, one row per fault (bar while on, ticks where it fired),
    /// the command's life, and the time axis.
    func timeline() -> String {
        let faultRows = summary.faults.count
        let commandRows = summary.commands.count
        let height = 34 + Double(faultRows + commandRows) * 26 + 30
        var svg = open(height: height, label: "Timeline of phases, faults and the command")
        svg += phaseShading(top: 0, height: height - 24)
        for (index, phase) in summary.phases.enumerated() {
            let (fill, ink) = phaseColours(index)
            let left = x(phase.start), right = x(phase.end ?? summary.end)
            svg += "<rect x=\"\(f(left))\" y=\"2\" width=\"\(f(max(1, right - left)))\" height=\"26\" rx=\"3\" fill=\"\(fill)\" stroke=\"\(ink)\" stroke-opacity=\".35\">"
            svg += "<title>\(ReportHTML.escape(phase.name)): \(ReportFormat.time(phase.start))–\(phase.end.map(ReportFormat.time) ?? "end")</title></rect>"
            svg += text(clip(phase.name, width: right - left - 8), x: left + 5, y: 19, attributes: "fill=\"\(ink)\" font-weight=\"600\"")
        }
        svg += text("phases", x: 8, y: 19, attributes: "class=\"lab\"")
        var y = 36.0
        for fault in summary.faults {
            let colour = Self.faultColour(fault.kind)
            let label = fault.name + (summary.proxies.count > 1 && !fault.proxy.isEmpty ? " @ " + fault.proxy : "")
            svg += text(clip(label, width: Self.gutter - 14), x: 8, y: y + 15, attributes: "class=\"lab\"")
            svg += "<line x1=\"\(f(Self.gutter))\" x2=\"\(f(Self.width - 16))\" y1=\"\(f(y + 11))\" y2=\"\(f(y + 11))\" class=\"rule\"/>"
            for span in fault.spans {
                let left = x(span.on), right = x(span.off ?? summary.end)
                svg += "<rect x=\"\(f(left))\" y=\"\(f(y + 4))\" width=\"\(f(max(2, right - left)))\" height=\"14\" rx=\"2\" fill=\"\(colour)\" fill-opacity=\".8\">"
                svg += "<title>\(ReportHTML.escape(fault.name)) (\(ReportHTML.escape(fault.kind))): on \(ReportFormat.time(span.on))–\(span.off.map(ReportFormat.time) ?? "end")</title></rect>"
            }
            let largest = fault.firedBuckets.values.max() ?? 1
            for (bucket, count) in fault.firedBuckets.sorted(by: { $0.key < $1.key }) {
                let mid = x(Int64(bucket) * summary.bucketWidth + summary.bucketWidth / 2)
                let opacity = 0.45 + 0.55 * Double(count) / Double(largest)
                svg += "<rect x=\"\(f(mid - 1.5))\" y=\"\(f(y))\" width=\"3\" height=\"22\" fill=\"#111\" fill-opacity=\"\(f2(opacity))\">"
                svg += "<title>fired \(count)× at \(ReportFormat.time(Int64(bucket) * summary.bucketWidth))</title></rect>"
            }
            y += 26
        }
        for command in summary.commands {
            let left = x(command.start), right = x(command.exitTime ?? summary.end)
            let failed = command.status.map { $0 != 0 } ?? false
            svg += text("command", x: 8, y: y + 15, attributes: "class=\"lab\"")
            svg += "<rect x=\"\(f(left))\" y=\"\(f(y + 6))\" width=\"\(f(max(2, right - left)))\" height=\"10\" rx=\"5\" fill=\"\(failed ? "#d64541" : "#7b8794")\">"
            svg += "<title>\(ReportHTML.escape(command.command)): \(ReportHTML.escape(command.exit ?? "running at the end"))</title></rect>"
            y += 26
        }
        svg += axis(y: height - 24)
        return svg + "</svg>"
    }

    /// The colour of a fault's bar, by layer.
    static func faultColour(_ kind: String) -> String {
        if kind.hasPrefix("tls.") { return "#7e57c2" }
        if kind.hasPrefix("redis.") { return "#e07b24" }
        if kind.hasPrefix("http.") { return "#2f6fbf" }
        return "#c0392b"
    }

    // MARK: Proxy charts

    /// The outcome series of the requests chart: key, label, colour.
    static let outcomes: [(label: String, colour: String, value: @Sendable (TrafficCounts) -> Int)] = [
        ("ok", "#2e9d5b", { $0.ok }), ("error from upstream", "#e8912d", { $0.errors }),
        ("error from faultline", "#8e44ad", { $0.byFaultline }), ("abandoned", "#9aa0a6", { $0.abandoned }),
        ("failed (no answer)", "#d64541", { $0.failed }), ("unanswered at the end", "#f2c94c", { $0.unfinished }),
    ]

    /// A proxy's panels: connection attempts/s, requests/s by outcome, latency, TLS handshakes.
    func proxyCharts(_ proxy: ProxySummary) -> String {
        let hasLatency = proxy.total.latency.count > 0
        let hasTLS = proxy.total.tlsCompleted + proxy.total.tlsFailed > 0
        let panels: [(title: String, height: Double)] = [("connections/s", 64), ("requests/s", 120)]
            + (hasLatency ? [("latency", 110)] : []) + (hasTLS ? [("TLS handshakes/s", 64)] : [])
        let subtitles = ["connections/s": "attempts", "requests/s": "by outcome", "latency": "p50 · p95",
                         "TLS handshakes/s": "ok · failed"]
        let total = panels.reduce(0) { $0 + $1.height + 22 } + 26
        var svg = open(height: total, label: "Traffic on proxy \(proxy.name)")
        svg += phaseShading(top: 0, height: total - 24)
        var top = 6.0
        let seconds = Double(summary.bucketWidth) / 1_000_000
        for panel in panels {
            svg += text(panel.title, x: 8, y: top + 12, attributes: "class=\"lab\" font-weight=\"600\"")
            svg += text(subtitles[panel.title] ?? "", x: 8, y: top + 27, attributes: "class=\"tick\"")
            let base = top + panel.height
            svg += "<line x1=\"\(f(Self.gutter))\" x2=\"\(f(Self.width - 16))\" y1=\"\(f(base))\" y2=\"\(f(base))\" class=\"base\"/>"
            switch panel.title {
            case "connections/s":
                svg += bars(proxy, top: top, height: panel.height, seconds: seconds,
                            layers: [("attempts", "#4a6fa5", { $0.attempts })])
            case "requests/s":
                svg += bars(proxy, top: top, height: panel.height, seconds: seconds, layers: Self.outcomes)
            case "TLS handshakes/s":
                svg += bars(proxy, top: top, height: panel.height, seconds: seconds,
                            layers: [("completed", "#26a69a", { $0.tlsCompleted }), ("failed", "#d64541", { $0.tlsFailed })])
            default:
                svg += latency(proxy, top: top, height: panel.height)
            }
            top += panel.height + 22
        }
        svg += axis(y: total - 24)
        return svg + "</svg>"
    }

    /// Stacked bars per bucket, as rates per second, with the peak rate written at the left.
    private func bars(_ proxy: ProxySummary, top: Double, height: Double, seconds: Double,
                      layers: [(label: String, colour: String, value: @Sendable (TrafficCounts) -> Int)]) -> String {
        let peak = proxy.series.map { counts in layers.reduce(0) { $0 + $1.value(counts) } }.max() ?? 0
        let scaleTop = Self.niceCeiling(Double(peak) / seconds)
        var svg = text(Self.rate(scaleTop), x: Self.gutter - 6, y: top + 10, attributes: "class=\"tick\" text-anchor=\"end\"")
        svg += text("0", x: Self.gutter - 6, y: top + height, attributes: "class=\"tick\" text-anchor=\"end\"")
        guard peak > 0 else {
            return svg + text("none", x: Self.gutter + 8, y: top + height - 6, attributes: "class=\"tick\"")
        }
        let barWidth = max(0.6, Double(summary.bucketWidth) / Double(end) * Self.plot - (seconds * 1_000_000 < Double(end) / 300 ? 0 : 1))
        for (bucket, counts) in proxy.series.enumerated() {
            var y = top + height
            let left = x(Int64(bucket) * summary.bucketWidth)
            for layer in layers {
                let value = layer.value(counts)
                guard value > 0 else { continue }
                let h = Double(value) / seconds / scaleTop * height
                y -= h
                svg += "<rect x=\"\(f(left))\" y=\"\(f(y))\" width=\"\(f(barWidth))\" height=\"\(f(h))\" fill=\"\(layer.colour)\"><title>"
                    + "\(ReportFormat.time(Int64(bucket) * summary.bucketWidth)): \(value) \(ReportHTML.escape(layer.label))</title></rect>"
            }
        }
        return svg
    }

    /// p95 (light) and p50 (dark) per bucket on a log scale with decade ticks.
    private func latency(_ proxy: ProxySummary, top: Double, height: Double) -> String {
        let low = max(1, proxy.total.latency.min), high = max(low * 10, proxy.total.latency.max)
        var floorDecade: Int64 = 1
        while floorDecade * 10 <= low { floorDecade *= 10 }
        var ceilDecade = floorDecade * 10
        while ceilDecade < high { ceilDecade *= 10 }
        let logLow = log10(Double(floorDecade)), logHigh = log10(Double(ceilDecade))
        func y(_ micros: Int64) -> Double {
            top + height - (log10(Double(max(1, micros))) - logLow) / (logHigh - logLow) * height
        }
        var svg = ""
        var decade = floorDecade
        while decade <= ceilDecade {
            svg += "<line x1=\"\(f(Self.gutter))\" x2=\"\(f(Self.width - 16))\" y1=\"\(f(y(decade)))\" y2=\"\(f(y(decade)))\" class=\"rule\"/>"
            svg += text(Self.decade(decade), x: Self.gutter - 6, y: y(decade) + 4, attributes: "class=\"tick\" text-anchor=\"end\"")
            decade *= 10
        }
        for (fraction, colour, radius) in [(0.95, "#8fb3e0", 2.2), (0.5, "#1f4e79", 2.2)] {
            var runs: [[(Double, Double)]] = [[]]
            for (bucket, counts) in proxy.series.enumerated() {
                guard let value = counts.latency.percentile(fraction) else {
                    if !(runs.last?.isEmpty ?? true) { runs.append([]) }
                    continue
                }
                runs[runs.count - 1].append((x(Int64(bucket) * summary.bucketWidth + summary.bucketWidth / 2), y(value)))
            }
            for run in runs where !run.isEmpty {
                if run.count == 1, let point = run.first {
                    svg += "<circle cx=\"\(f(point.0))\" cy=\"\(f(point.1))\" r=\"\(radius)\" fill=\"\(colour)\"/>"
                } else {
                    svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\" points=\""
                        + run.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ") + "\"/>"
                }
            }
        }
        return svg
    }

    // MARK: Pieces

    private func open(height: Double, label: String) -> String {
        "<svg viewBox=\"0 0 \(f(Self.width)) \(f(height))\" role=\"img\" aria-label=\"\(ReportHTML.escape(label))\""
            + " preserveAspectRatio=\"xMinYMin meet\" xmlns=\"http://www.w3.org/2000/svg\">"
    }

    /// Faint phase colours behind a chart, and a dashed line at each boundary.
    private func phaseShading(top: Double, height: Double) -> String {
        var svg = ""
        for (index, phase) in summary.phases.enumerated() {
            let left = x(phase.start), right = x(phase.end ?? summary.end)
            svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(max(0, right - left)))\" height=\"\(f(height))\" fill=\"\(phaseColours(index).fill)\" fill-opacity=\".45\"/>"
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(top))\" y2=\"\(f(top + height))\" class=\"edge\"/>"
        }
        return svg
    }

    /// Ticks along the bottom at a round step (about 10 of them).
    private func axis(y: Double) -> String {
        let steps: [Int64] = [100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 15_000_000,
                              30_000_000, 60_000_000, 120_000_000, 300_000_000, 600_000_000, 900_000_000,
                              1_800_000_000, 3_600_000_000, 7_200_000_000, 21_600_000_000, 43_200_000_000, 86_400_000_000]
        let step = steps.first { end / $0 <= 12 } ?? end / 10
        var svg = "<line x1=\"\(f(Self.gutter))\" x2=\"\(f(Self.width - 16))\" y1=\"\(f(y))\" y2=\"\(f(y))\" class=\"base\"/>"
        var tick: Int64 = 0
        while tick <= end {
            svg += "<line x1=\"\(f(x(tick)))\" x2=\"\(f(x(tick)))\" y1=\"\(f(y))\" y2=\"\(f(y + 4))\" class=\"base\"/>"
            svg += text(ReportFormat.time(tick), x: x(tick), y: y + 16, attributes: "class=\"tick\" text-anchor=\"middle\"")
            tick += max(1, step)
        }
        return svg
    }

    private func text(_ content: String, x: Double, y: Double, attributes: String) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" \(attributes)>\(ReportHTML.escape(content))</text>"
    }

    /// `text` cut to fit `width` units at about 7 units a character, with an ellipsis.
    private func clip(_ text: String, width: Double) -> String {
        let fits = Int(width / 7)
        guard text.count > fits else { return text }
        return fits <= 1 ? "" : String(text.prefix(fits - 1)) + "…"
    }

    /// The smallest 1, 2 or 5 × 10^n at or above `value` (1 for 0).
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        var decade = 1.0
        while decade * 10 <= value { decade *= 10 }
        while decade > value { decade /= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where decade * factor >= value { return decade * factor }
        return decade * 10
    }

    /// A power of ten of microseconds as a tick: `100µs`, `1ms`, `10s`.
    static func decade(_ micros: Int64) -> String {
        micros < 1000 ? "\(micros)µs" : micros < 1_000_000 ? "\(micros / 1000)ms" : "\(micros / 1_000_000)s"
    }

    static func rate(_ value: Double) -> String {
        value >= 1 ? "\(Int(value))/s" : "\(f2(value))/s"
    }
}

/// SVG coordinates with one decimal.
private func f(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    let sign = tenths < 0 ? "-" : ""
    return "\(sign)\(abs(tenths) / 10)" + (abs(tenths) % 10 == 0 ? "" : ".\(abs(tenths) % 10)")
}

/// Two decimals, for opacities and small rates.
private func f2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = abs(hundredths) % 100
    return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
}
