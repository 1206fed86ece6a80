/// Verdicts as people and CI systems read them: a text block for the terminal and log, and
/// JUnit XML for `--junit`.
public enum VerdictReport {
    /// One line per expectation (`PASS  label — figure`), then a summary line. Control
    /// characters from the scenario's names are escaped: one verdict stays one line.
    public static func text(_ verdicts: [Verdict], scenario: String) -> String {
        let lines = verdicts.map { verdict in
            let word = verdict.status.rawValue.uppercased()
            return word.padding(to: 5) + " " + verdict.label + " — " + verdict.observed
        }
        return (lines + [summary(verdicts, scenario: scenario)]).map(TerminalText.escaped).joined(separator: "\n")
    }

    /// `NAME: all 3 expectations held`, `NAME: 1 of 3 expectations failed, 1 could not be judged`.
    public static func summary(_ verdicts: [Verdict], scenario: String) -> String {
        let failed = verdicts.filter { $0.status == .fail }.count
        let errors = verdicts.filter { $0.status == .error }.count
        let total = Figures.count(verdicts.count, "expectation")
        if verdicts.isEmpty { return "\(scenario): no expectations" }
        if failed == 0 && errors == 0 {
            return verdicts.count == 1 ? "\(scenario): the expectation held" : "\(scenario): all \(total) held"
        }
        var parts: [String] = []
        if failed > 0 { parts.append("\(failed) of \(total) failed") }
        if errors > 0 { parts.append("\(errors) \(failed > 0 ? "" : "of \(total) ")could not be judged") }
        return "\(scenario): " + parts.joined(separator: ", ")
    }

    /// A JUnit XML document: one `<testsuite>` named after the scenario, one `<testcase>` per
    /// expectation (classname = scenario, name = label, time = the stretch it was judged on),
    /// then one per check on the run itself (`command`, `run`). A failed expectation or check
    /// carries `<failure>`, an expectation that could not be judged `<error>`; every testcase
    /// keeps the observed figure in `<system-out>`, so a CI page shows it for passes too.
    public static func junitXML(_ verdicts: [Verdict], scenario: String, duration: Duration,
                                runChecks: [RunCheck] = []) -> String {
        let failures = verdicts.filter { $0.status == .fail }.count + runChecks.filter { !$0.passed }.count
        let errors = verdicts.filter { $0.status == .error }.count
        let counts = "tests=\"\(verdicts.count + runChecks.count)\" failures=\"\(failures)\" errors=\"\(errors)\""
        let time = "time=\"\(seconds(duration))\""
        var xml = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>"]
        xml.append("<testsuites name=\"faultline\" \(counts) \(time)>")
        xml.append("  <testsuite name=\"\(escape(scenario))\" \(counts) skipped=\"0\" \(time)>")
        for verdict in verdicts {
            xml.append("    <testcase classname=\"\(escape(scenario))\" name=\"\(escape(verdict.label))\""
                       + " time=\"\(seconds(verdict.judgedOver))\">")
            let observed = escape(verdict.observed)
            switch verdict.status {
            case .pass: break
            case .fail: xml.append("      <failure type=\"\(escape(verdict.kind))\" message=\"\(observed)\">\(observed)</failure>")
            case .error: xml.append("      <error type=\"\(escape(verdict.kind))\" message=\"\(observed)\">\(observed)</error>")
            }
            xml.append("      <system-out>\(observed)</system-out>")
            xml.append("    </testcase>")
        }
        for check in runChecks {
            xml.append("    <testcase classname=\"\(escape(scenario))\" name=\"\(escape(check.name))\" time=\"\(seconds(duration))\">")
            let message = escape(check.message)
            if !check.passed {
                xml.append("      <failure type=\"\(escape(check.name))\" message=\"\(message)\">\(message)</failure>")
            }
            xml.append("      <system-out>\(escape(check.detail))</system-out>")
            xml.append("    </testcase>")
        }
        xml.append("  </testsuite>")
        xml.append("</testsuites>")
        return xml.joined(separator: "\n") + "\n"
    }

    /// A JUnit XML document for a run that could not happen (exit 2 after `--junit` was
    /// checked: a scenario with errors, a command that cannot start): one `run` testcase whose
    /// `<error>` carries `reason`, so CI shows an error instead of an earlier run's verdict.
    public static func junitError(_ reason: String, scenario: String) -> String {
        let counts = "tests=\"1\" failures=\"0\" errors=\"1\""
        let message = escape(reason)
        return [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<testsuites name=\"faultline\" \(counts) time=\"0.000\">",
            "  <testsuite name=\"\(escape(scenario))\" \(counts) skipped=\"0\" time=\"0.000\">",
            "    <testcase classname=\"\(escape(scenario))\" name=\"run\" time=\"0.000\">",
            "      <error type=\"run\" message=\"\(message)\">\(message)</error>",
            "    </testcase>",
            "  </testsuite>",
            "</testsuites>",
        ].joined(separator: "\n") + "\n"
    }

    /// Text made safe for XML content and attribute values. Control characters XML 1.0
    /// cannot carry become U+FFFD; line breaks and tabs are kept as character references,
    /// so attribute values do not lose them to whitespace normalisation.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            case "\t": out += "&#9;"
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Seconds with millisecond precision, as JUnit's `time` attributes are written: `55.000`.
    static func seconds(_ duration: Duration) -> String {
        let (whole, atto) = duration.components
        let millis = max(0, whole * 1000 + Int64((Double(atto) / 1e15).rounded()))
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
