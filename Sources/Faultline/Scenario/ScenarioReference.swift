/// The reference part of docs/scenarios.md, generated from `ScenarioSchema`, the fault
/// registry and the expectation catalogue: the same lists the loader checks files against.
/// A unit test keeps the page equal to this text.
public enum ScenarioReference {
    /// Marks around the generated part of docs/scenarios.md.
    public static let beginMarker = "<!-- BEGIN generated from ScenarioReference.markdown(); do not edit by hand -->"
    /// See `beginMarker`.
    public static let endMarker = "<!-- END generated -->"

    /// Markdown: one table per kind of mapping, then every expectation with an example.
    public static func markdown() -> String {
        var lines: [String] = []
        for section in ScenarioSchema.sections {
            lines += ["### \(section.title)" + (section.path.isEmpty ? " (top level)" : " (`\(section.path)`)"), ""]
            lines += sectionNote(section)
            lines += ["| key | type | default | meaning | example |", "|---|---|---|---|---|"]
            for key in section.keys {
                let example = key.example.isEmpty ? "" : code("\(key.name): \(key.example)")
                lines.append(row([code(key.name), key.type, key.presence, key.meaning, example]))
            }
            lines.append("")
        }
        lines += ["### Expectations", ""]
        lines += ["Each `expect:` entry holds one of these keys. Its value is the check's one parameter when it has a",
                  "scalar form (`max_rate: 10`), or a mapping of its parameters (`probe_after: {quiet: 30s, within: 5s}`).", ""]
        for kind in ExpectationSpec.kinds {
            lines += ["#### `\(kind.name)`", "", kind.summary, ""]
            let scalar = kind.scalarParameter.map { "Scalar form: `\(kind.name): VALUE` sets `\($0)`." }
                ?? "Mapping form only."
            lines += [scalar, "", "| parameter | type | required | meaning | example |", "|---|---|---|---|---|"]
            for parameter in kind.parameters {
                lines.append(row([code(parameter.name), parameter.type.rawValue, parameter.required ? "yes" : "no",
                                  parameter.meaning, code(parameter.example)]))
            }
            lines += ["", "```yaml", "expect:"]
            lines += kind.example.split(separator: "\n", omittingEmptySubsequences: false).map { "  \($0)" }
            lines += ["```", ""]
        }
        return lines.joined(separator: "\n")
    }

    private static func sectionNote(_ section: ScenarioSection) -> [String] {
        if section.path == ScenarioSchema.serverTLS.path {
            return ["`tls:` is a mapping, in flow (`tls: { profile: expired }`) or block form; `tls: {}` takes every default.",
                    "Certificates chain to the CA that `run` and `faultline certs` share in the working directory (`./.faultline/ca`);",
                    "`faultline certs --profile valid --host localhost --out DIR` writes its root as `DIR/ca.pem` for clients to trust.",
                    "The profiles, as a verifying client meets them:", ""]
                + CertificateProfile.allCases.map { "- `\($0.rawValue)`: \($0.summary)" } + [""]
        }
        if section.path == ScenarioSchema.upstreamTLS.path {
            return ["`upstream_tls:` is a mapping too; `upstream_tls: {}` verifies the upstream against the system's roots.", ""]
        }
        guard section.path == ScenarioSchema.fault.path else { return [] }
        let kinds = FaultRegistry.kinds.map { "`\($0.name)`" }.joined(separator: ", ")
        return ["A fault entry is a one-key mapping `LAYER.KIND: {parameters}`. Kinds: \(kinds).",
                "Each kind's own parameters are in [faults.md](faults.md); every kind also takes these:", ""]
    }

    private static func row(_ cells: [String]) -> String {
        // A `|` inside a cell would end it, even inside backticks.
        "| " + cells.map { String($0.flatMap { $0 == "|" ? ["\\", "|"] : [$0] }) }.joined(separator: " | ") + " |"
    }

    private static func code(_ text: String) -> String { "`\(text)`" }
}
