/// report.html: one self-contained page — inline CSS and SVG, no script needed, nothing
/// fetched — that a person reads at a glance: the header (scenario, seed, version, start,
/// duration, command and its exit), the verdicts, a timeline of phases, faults and the
/// command, then per proxy its traffic on the same time axis and its figures per phase.
///
/// Every text from the recording is escaped (`escape`). Every figure also in the text report
/// carries `data-figure="NAME"` and is listed in `<script type="application/json"
/// id="figures">`, both from `ReportFigures`.
enum ReportHTML {
    static func render(_ summary: RecordingSummary) -> String {
        let figures = ReportFigures(summary)
        let svg = ReportSVG(summary)
        let title = ReportText.title(summary)
        var page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        page += "<title>\(escape(title)) — faultline report</title><style>\(css)</style></head><body>\n"
        page += header(summary, figures, title: title)
        page += notes(summary)
        page += verdicts(summary, figures)
        page += "<section class=\"timeline\"><h2>Timeline</h2>" + svg.timeline() + faultTable(summary, figures) + "</section>\n"
        for (number, proxy) in zip(1..., summary.proxies) { page += proxySection(proxy, number: number, summary, svg, figures) }
        page += "<footer>\(figure("run.events", figures)) events read from events.jsonl"
        page += summary.lines.bad > 0 ? ", \(figure("run.bad_lines", figures)) lines skipped" : ""
        page += " · buckets of \(ReportFormat.time(summary.bucketWidth)) · written by <code>faultline report</code></footer>\n"
        page += "<script type=\"application/json\" id=\"figures\">" + figuresJSON(figures) + "</script>\n"
        return page + "</body></html>\n"
    }

    // MARK: Sections

    private static func header(_ summary: RecordingSummary, _ figures: ReportFigures, title: String) -> String {
        let verdicts = ReportText.verdictValues(summary)
        let failing = verdicts.contains { $0.status != .pass } || summary.commands.contains { ($0.status ?? 0) != 0 }
            || !summary.stops.isEmpty
        let badge = verdicts.isEmpty && summary.commands.isEmpty ? ""
            : "<span class=\"badge \(failing ? "fail" : "pass")\">\(failing ? "FAILED" : "PASSED")</span>"
        var html = "<header><h1>\(escape(title)) \(badge)</h1>"
        if let description = summary.scenario?.description { html += "<p class=\"desc\">\(escape(description))</p>" }
        html += "<dl class=\"facts\">"
        func fact(_ term: String, _ value: String) { html += "<div><dt>\(term)</dt><dd>\(value)</dd></div>" }
        fact("seed", figure("run.seed", figures))
        fact("duration", figure("run.duration", figures))
        fact("started", escape(summary.info.started ?? "?"))
        fact("recorded by", "faultline \(escape(summary.info.command ?? "?")) \(escape(summary.info.faultline ?? "?"))")
        if let capture = summary.info.capture {
            fact("capture", (capture ? "capture.pcapng" : "off") + (summary.info.redacted == false ? ", secrets not redacted" : ""))
        }
        html += "</dl>"
        for (number, command) in zip(1..., summary.commands) {
            let failed = (command.status ?? 0) != 0 || command.exit == nil
            html += "<p class=\"command\"><span class=\"k\">command</span> <code>\(escape(command.command))</code> → "
                + "<span class=\"\(failed ? "bad" : "good")\" data-figure=\"command.\(number).exit\">"
                + "\(escape(figures["command.\(number).exit"]))</span></p>"
        }
        for stop in summary.stops {
            html += "<p class=\"command bad\">stopped early by \(escape(SignalName.of(Int32(clamping: stop.signal)))) at \(ReportFormat.time(stop.time))</p>"
        }
        return html + "</header>\n"
    }

    private static func notes(_ summary: RecordingSummary) -> String {
        let notes = ReportText.noteLines(summary)
        guard !notes.isEmpty else { return "" }
        return "<section class=\"notes\"><ul>" + notes.map { "<li>\(escape($0))</li>" }.joined() + "</ul></section>\n"
    }

    private static func verdicts(_ summary: RecordingSummary, _ figures: ReportFigures) -> String {
        var html = "<section class=\"verdicts\"><h2>Verdicts</h2>"
        guard !summary.verdicts.isEmpty else {
            return html + "<p class=\"muted\">\(summary.scenario == nil ? "None: not a scenario run." : "None recorded.")</p></section>\n"
        }
        html += "<table><thead><tr><th>result</th><th>expectation</th><th>observed</th></tr></thead><tbody>"
        for (number, verdict) in zip(1..., summary.verdicts) {
            let status = ["pass", "fail"].contains(verdict.status) ? verdict.status : "error"
            html += "<tr><td><span class=\"pill \(status)\" data-figure=\"verdict.\(number).status\">"
                + "\(escape(figures["verdict.\(number).status"]))</span></td><td>\(escape(verdict.label))</td>"
                + "<td class=\"fig\" data-figure=\"verdict.\(number).observed\">\(escape(figures["verdict.\(number).observed"]))</td></tr>"
        }
        html += "</tbody></table><p class=\"summary\">"
            + escape(VerdictReport.summary(ReportText.verdictValues(summary), scenario: ReportText.title(summary))) + "</p>"
        return html + "</section>\n"
    }

    private static func faultTable(_ summary: RecordingSummary, _ figures: ReportFigures) -> String {
        var html = "<div class=\"twocol\"><table class=\"small\"><thead><tr><th></th><th>phase</th><th>from</th><th>to</th>"
            + "<th>length</th></tr></thead><tbody>"
        let svg = ReportSVG(summary)
        for (number, phase) in zip(1..., summary.phases) {
            html += "<tr><td><span class=\"sw\" style=\"background:\(svg.phaseColours(number - 1).fill)\"></span></td>"
                + "<td>\(escape(phase.name))</td>" + cell("phase.\(number).start", figures) + cell("phase.\(number).end", figures)
                + cell("phase.\(number).length", figures) + "</tr>"
        }
        if summary.phases.isEmpty { html += "<tr><td></td><td colspan=\"4\" class=\"muted\">no timeline</td></tr>" }
        html += "</tbody></table><table class=\"small\"><thead><tr><th></th><th>fault</th><th>kind</th><th>proxy</th><th>on</th>"
            + "<th>applied</th><th>fired</th><th>by action</th></tr></thead><tbody>"
        for (number, fault) in zip(1..., summary.faults) {
            let actions = fault.fired.map {
                "\(escape($0.action)) <span data-figure=\"\(escape("fault.\(number).fired.\($0.action)"))\">"
                    + "\(escape(figures["fault.\(number).fired.\($0.action)"]))</span>"
            }
            html += "<tr><td><span class=\"sw\" style=\"background:\(ReportSVG.faultColour(fault.kind))\"></span></td>"
                + "<td>\(escape(fault.name))</td><td>\(escape(fault.kind))</td><td>\(escape(fault.proxy))</td>"
                + cell("fault.\(number).on", figures) + cell("fault.\(number).applied", figures)
                + cell("fault.\(number).fired", figures) + "<td>\(actions.isEmpty ? "–" : actions.joined(separator: ", "))</td></tr>"
        }
        if summary.faults.isEmpty { html += "<tr><td></td><td colspan=\"7\" class=\"muted\">no faults</td></tr>" }
        return html + "</tbody></table></div>"
    }

    private static func proxySection(_ proxy: ProxySummary, number: Int, _ summary: RecordingSummary, _ svg: ReportSVG,
                                     _ figures: ReportFigures) -> String {
        var html = "<section class=\"proxy\"><h2>Proxy <span class=\"name\">\(escape(proxy.name))</span> "
            + "<span class=\"muted\">\(escape(proxy.protocolName))\(proxy.tls ? " + tls" : "")"
            + "\(proxy.address.map { " · listening on " + escape($0) } ?? "")</span></h2>"
        html += svg.proxyCharts(proxy)
        let layers = ReportSVG.outcomes.filter { $0.label != "unanswered at the end" || proxy.total.unfinished > 0 }
        html += "<p class=\"legend\">" + layers.map {
            "<span><i style=\"background:\($0.colour)\"></i>\(escape($0.label))</span>"
        }.joined() + "<span><i style=\"background:#1f4e79\"></i>p50 latency</span><span><i style=\"background:#8fb3e0\"></i>p95 latency</span>"
            + "<span class=\"muted\">per second, buckets of \(ReportFormat.time(summary.bucketWidth)); a request and its outcome"
            + " show when it was sent</span></p>"
        let columns = ReportFigures.columns(proxy)
        html += "<table class=\"traffic\"><thead><tr><th>phase</th>" + columns.map { "<th>\($0.heading)</th>" }.joined() + "</tr></thead><tbody>"
        func row(_ label: String, _ prefix: String, swatch: String?, total: Bool = false) {
            html += "<tr\(total ? " class=\"total\"" : "")><td>" + (swatch.map { "<span class=\"sw\" style=\"background:\($0)\"></span>" } ?? "")
                + escape(label) + "</td>" + columns.map { cell("\(prefix).\($0.key)", figures) }.joined() + "</tr>"
        }
        for (phase, info) in zip(1..., summary.phases) {
            row(info.name, "proxy.\(number).phase.\(phase)", swatch: svg.phaseColours(phase - 1).fill)
        }
        if !proxy.outside.isEmpty { row(summary.phases.isEmpty ? "(whole run)" : "(no phase)", "proxy.\(number).outside", swatch: nil) }
        row("all", "proxy.\(number).all", swatch: nil, total: true)
        html += "</tbody></table>"
        var extras: [String] = []
        if !proxy.handshakes.isEmpty {
            extras.append(list("TLS handshakes", zip(1..., proxy.handshakes).map { row, item in
                ("\(escape(item.profile)) <b class=\"\(item.completed ? "good" : "bad")\">\(item.completed ? "completed" : "failed")</b> "
                    + escape(item.detail), "proxy.\(number).tls.\(row)")
            }, figures))
        }
        if !proxy.errors.isEmpty {
            extras.append(list("Error answers", zip(1..., proxy.errors).map { row, item in
                (escape(item.code) + (item.byFaultline ? " <span class=\"muted\">from faultline</span>" : ""), "proxy.\(number).error.\(row)")
            }, figures))
        }
        if !proxy.statuses.isEmpty {
            extras.append(list("HTTP statuses", zip(1..., proxy.statuses).map { row, item in
                ("\(item.status)" + (item.byFaultline ? " <span class=\"muted\">from faultline</span>" : ""), "proxy.\(number).status.\(row)")
            }, figures))
        }
        if !proxy.upstreamFailures.isEmpty {
            extras.append(list("Upstream failed", zip(1..., proxy.upstreamFailures).map { row, item in
                (escape(item.reason), "proxy.\(number).upstream_failed.\(row)")
            }, figures))
        }
        if !extras.isEmpty { html += "<div class=\"extras\">" + extras.joined() + "</div>" }
        return html + "</section>\n"
    }

    /// A small table of `label → count` rows; labels are HTML already.
    private static func list(_ title: String, _ rows: [(String, String)], _ figures: ReportFigures) -> String {
        "<table class=\"small\"><thead><tr><th>\(title)</th><th>count</th></tr></thead><tbody>"
            + rows.map { "<tr><td>\($0.0)</td>" + cell($0.1, figures) + "</tr>" }.joined() + "</tbody></table>"
    }

    // MARK: Figures

    private static func cell(_ name: String, _ figures: ReportFigures) -> String {
        "<td class=\"num\" data-figure=\"\(escape(name))\">\(escape(figures[name]))</td>"
    }

    private static func figure(_ name: String, _ figures: ReportFigures) -> String {
        "<span data-figure=\"\(escape(name))\">\(escape(figures[name]))</span>"
    }

    /// `{"name":"value",…}`; JSONValue escapes `<`, `>` and `&`, so no text can close the script element.
    private static func figuresJSON(_ figures: ReportFigures) -> String {
        var object = JSONObject()
        for (name, value) in figures.list { object[name] = .string(value) }
        return JSONValue.object(object).text
    }

    /// Text made safe for HTML content and attribute values: markup characters become
    /// entities; control characters other than tab and newline become U+FFFD.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0): out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
