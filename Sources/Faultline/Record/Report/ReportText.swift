/// The text report of `faultline report DIR`: what ran, its phases, the faults and how often
/// they fired, per proxy the client's behaviour phase by phase, and the verdicts with their
/// figures. Every number comes from `ReportFigures`. Names from the recording go through
/// `TerminalText.escaped`: a proxy or phase name cannot move the cursor or break a line.
enum ReportText {
    static func render(_ summary: RecordingSummary) -> String {
        let figures = ReportFigures(summary)
        var out: [String] = []
        out += header(summary, figures)
        out += phases(summary, figures)
        out += faults(summary, figures)
        for (number, proxy) in zip(1..., summary.proxies) { out += traffic(proxy, number: number, summary, figures) }
        out += verdicts(summary, figures)
        out += notes(summary)
        return out.joined(separator: "\n") + "\n"
    }

    /// The scenario's name: the title of both reports.
    static func title(_ summary: RecordingSummary) -> String {
        summary.scenario?.name ?? "faultline \(summary.info.command ?? "recording")"
    }

    private static func header(_ summary: RecordingSummary, _ figures: ReportFigures) -> [String] {
        var lines = [esc(title(summary)) + (summary.scenario?.description.map { " — " + esc($0) } ?? "")]
        var facts = ["faultline \(esc(summary.info.command ?? "?")) \(esc(summary.info.faultline ?? "?"))"]
        if let started = summary.info.started { facts.append("started \(esc(started))") }
        facts.append("duration \(figures["run.duration"])")
        facts.append("seed \(figures["run.seed"])")
        if let capture = summary.info.capture { facts.append(capture ? "capture on" : "capture off") }
        if let redacted = summary.info.redacted { facts.append(redacted ? "secrets redacted" : "secrets NOT redacted") }
        lines.append("Recording \(esc(summary.directory)): " + facts.joined(separator: ", "))
        for (number, command) in zip(1..., summary.commands) {
            let pid = command.pid.map { " (pid \($0))" } ?? ""
            lines.append("Command: \(esc(command.command))\(pid) at \(ReportFormat.time(command.start)) — \(figures["command.\(number).exit"])")
        }
        for stop in summary.stops {
            lines.append("Stopped early: \(SignalName.of(Int32(clamping: stop.signal))) at \(ReportFormat.time(stop.time))")
        }
        return lines
    }

    private static func phases(_ summary: RecordingSummary, _ figures: ReportFigures) -> [String] {
        guard !summary.phases.isEmpty else { return ["", "Phases: none (no timeline)"] }
        var rows = [["", "phase", "from", "to", "length"]]
        for (number, phase) in zip(1..., summary.phases) {
            rows.append([String(number), esc(phase.name), figures["phase.\(number).start"], figures["phase.\(number).end"],
                         figures["phase.\(number).length"]])
        }
        return ["", "Phases"] + table(rows, leftColumns: 2)
    }

    private static func faults(_ summary: RecordingSummary, _ figures: ReportFigures) -> [String] {
        guard !summary.faults.isEmpty else { return ["", "Faults: none"] }
        var rows = [["proxy", "fault", "kind", "on", "applied", "fired", "by action"]]
        for (number, fault) in zip(1..., summary.faults) {
            let actions = fault.fired.map { "\(esc($0.action)) \(figures["fault.\(number).fired.\($0.action)"])" }
            rows.append([esc(fault.proxy.isEmpty ? "-" : fault.proxy), esc(fault.name), esc(fault.kind), figures["fault.\(number).on"],
                         figures["fault.\(number).applied"], figures["fault.\(number).fired"],
                         actions.isEmpty ? "-" : actions.joined(separator: ", ")])
        }
        return ["", "Faults"] + table(rows, leftColumns: 4, lastLeft: true)
    }

    private static func traffic(_ proxy: ProxySummary, number: Int, _ summary: RecordingSummary,
                                _ figures: ReportFigures) -> [String] {
        let listen = proxy.address.map { ", listening on \(esc($0))" } ?? ""
        var lines = ["", "Client behaviour on proxy \(esc(proxy.name)) (\(esc(proxy.protocolName))\(proxy.tls ? " + tls" : "")\(listen))"]
        let columns = ReportFigures.columns(proxy)
        var rows = [["phase"] + columns.map(\.heading)]
        func row(_ label: String, _ prefix: String) { rows.append([label] + columns.map { figures["\(prefix).\($0.key)"] }) }
        for (phase, info) in zip(1..., summary.phases) { row(esc(info.name), "proxy.\(number).phase.\(phase)") }
        if !proxy.outside.isEmpty { row(summary.phases.isEmpty ? "(whole run)" : "(no phase)", "proxy.\(number).outside") }
        row("all", "proxy.\(number).all")
        lines += table(rows, leftColumns: 1)
        if !proxy.handshakes.isEmpty {
            lines.append("  TLS handshakes: " + zip(1..., proxy.handshakes).map { row, item in
                "\(esc(item.profile)) \(item.completed ? "completed" : "failed") (\(esc(item.detail))) \(figures["proxy.\(number).tls.\(row)"])"
            }.joined(separator: ", "))
        }
        if !proxy.errors.isEmpty {
            lines.append("  Errors: " + zip(1..., proxy.errors).map { row, item in
                "\(esc(item.code))\(item.byFaultline ? " (faultline)" : "") \(figures["proxy.\(number).error.\(row)"])"
            }.joined(separator: ", "))
        }
        if !proxy.statuses.isEmpty {
            lines.append("  HTTP statuses: " + zip(1..., proxy.statuses).map { row, item in
                "\(item.status)\(item.byFaultline ? " (faultline)" : "") \(figures["proxy.\(number).status.\(row)"])"
            }.joined(separator: ", "))
        }
        if !proxy.upstreamFailures.isEmpty {
            lines.append("  Upstream failed: " + zip(1..., proxy.upstreamFailures).map { row, item in
                "\(esc(item.reason)) \(figures["proxy.\(number).upstream_failed.\(row)"])"
            }.joined(separator: ", "))
        }
        lines.append("  (requests and their outcomes count in the phase they were sent in; latency from a request's"
                     + " arrival to its answer; p50/p95 exact up to 256 requests, within ±5% beyond)")
        return lines
    }

    private static func verdicts(_ summary: RecordingSummary, _ figures: ReportFigures) -> [String] {
        guard !summary.verdicts.isEmpty else {
            return ["", summary.scenario == nil ? "Verdicts: none (not a scenario run)" : "Verdicts: none recorded"]
        }
        var lines = ["", "Verdicts"]
        for (number, verdict) in zip(1..., summary.verdicts) {
            let word = figures["verdict.\(number).status"]
            lines.append("  " + word + String(repeating: " ", count: max(1, 6 - word.count)) + esc(verdict.label)
                         + " — " + esc(figures["verdict.\(number).observed"]))
        }
        lines.append("  " + esc(VerdictReport.summary(verdictValues(summary), scenario: title(summary))))
        return lines
    }

    /// The recorded verdicts as `Verdict`s, for `VerdictReport.summary`.
    static func verdictValues(_ summary: RecordingSummary) -> [Verdict] {
        summary.verdicts.map {
            Verdict(label: $0.label, kind: $0.expectation, status: Verdict.Status(rawValue: $0.status) ?? .error,
                    observed: $0.observed)
        }
    }

    /// What the reader should know about the files: skipped lines, a cut file, stopped files.
    static func noteLines(_ summary: RecordingSummary) -> [String] {
        var notes: [String] = []
        let lines = summary.lines
        if lines.missing { notes.append("events.jsonl is missing: no traffic, phases or verdicts to show") }
        if lines.bad > 0 {
            notes.append("events.jsonl: \(lines.bad) line\(lines.bad == 1 ? "" : "s") could not be read and "
                         + "\(lines.bad == 1 ? "was" : "were") skipped (first: line \(lines.firstBad ?? 0))")
        }
        if lines.partialLast {
            notes.append("events.jsonl ends in a cut line (the recorder was killed mid-write?): it was ignored")
        }
        if lines.unknownKinds > 0 {
            notes.append("events.jsonl: \(lines.unknownKinds) events of kinds this faultline does not know were skipped")
        }
        if lines.otherVersion > 0 {
            notes.append("events.jsonl: \(lines.otherVersion) lines of another schema version were skipped")
        }
        if let error = summary.scenario?.loadError {
            notes.append("scenario.yaml did not load (\(error.split(separator: "\n").first ?? "")): planned phases unknown")
        }
        for stop in summary.recordingStops {
            notes.append("\(stop.file) stopped growing at \(ReportFormat.time(stop.time)): \(stop.reason)")
        }
        if summary.commands.contains(where: { $0.exit == nil }) || summary.phases.contains(where: { $0.end == nil }) {
            notes.append("the recording ends before the run did (a phase or the command had not ended)")
        }
        return notes
    }

    private static func notes(_ summary: RecordingSummary) -> [String] {
        let notes = noteLines(summary)
        return notes.isEmpty ? [] : ["", "Notes"] + notes.map { "  " + esc($0) }
    }

    /// Rows as columns padded to their widest cell: the first `leftColumns` left-aligned, the
    /// rest right-aligned (numbers), the last left-aligned too when `lastLeft`.
    static func table(_ rows: [[String]], leftColumns: Int, lastLeft: Bool = false) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            var line = " "
            for (index, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                let left = index < leftColumns || (lastLeft && index == columns - 1)
                line += " " + (left ? cell + (index == row.count - 1 ? "" : pad) : pad + cell)
            }
            return line
        }
    }

    private static func esc(_ text: String) -> String { TerminalText.escaped(text) }
}
