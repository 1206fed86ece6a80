import Faultline

/// What users see for what they write, shared by the parsing and loading tests.
enum InputCheck {
    /// Every `file:line:col: message` the loader reports for `yaml` (file `s.yaml`); none
    /// when it loads.
    static func errors(_ yaml: String) -> [String] {
        do {
            _ = try ScenarioLoader.load(yaml: yaml, file: "s.yaml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    /// A scenario with `proxies` (its entries, indented two spaces) and one 5 s phase `outage`
    /// whose `faults:` are `faults` (entries indented six spaces); nothing after them.
    static func scenario(proxies: String, faults: String) -> String {
        "proxies:\n\(proxies)\ntimeline:\n  - phase: outage\n    for: 5s\n    faults:\n\(faults)\n"
    }

    /// The error `--fault TEXT` gets, or "no error".
    static func faultMessage(_ text: String) -> String {
        do {
            _ = try Fault(parsing: FaultSpec(parsing: text))
            return "no error"
        } catch {
            return "\(error)"
        }
    }
}

extension InputCheck {
    /// `text` with what follows "not a regular expression: " (the regex engine's own words,
    /// which can change with the toolchain) replaced by `…`.
    static func regexDetailCut(_ text: String) -> String {
        guard let marker = text.range(of: "not a regular expression: ") else { return text }
        return text[..<marker.upperBound] + "…"
    }
}
