/// The human listing of every fault kind, generated from `FaultRegistry` so it cannot drift.
public enum FaultCatalog {
    /// Text for `faultline faults` and docs/faults.md.
    public static func text() -> String {
        var lines: [String] = []
        for kind in FaultRegistry.kinds {
            let toxiproxy = kind.toxiproxy.map { "  (Toxiproxy: \($0.type))" } ?? ""
            lines.append("\(kind.name)\(toxiproxy)")
            lines.append("  \(kind.summary)")
            for parameter in kind.parameters {
                lines.append(row(parameter))
            }
            if kind.directional {
                let path = kind.touchesBytes ? "; moves the link to the buffered path" : ""
                lines.append("    direction      default \(kind.defaultDirection.rawValue)\(path)")
            }
            lines.append("  example: --fault \(kind.example)")
            lines.append("")
        }
        lines.append("Every kind also takes:")
        Fault.commonParameters.forEach { lines.append(row($0)) }
        lines.append("")
        lines.append("tls.* kinds need a proxy that terminates TLS (tls: in a scenario, --tls-profile).")
        lines.append("Certificate profiles (tls: {profile: P}, tls.profile, --tls-profile) and what a verifying client reports:")
        CertificateProfile.allCases.forEach { lines.append("    \(pad($0.rawValue, 17)) \($0.summary)") }
        return lines.joined(separator: "\n")
    }

    private static func row(_ parameter: FaultParameter) -> String {
        let value = parameter.defaultValue.map { "default \($0)" } ?? (parameter.optional || Fault.commonParameters.contains { $0.name == parameter.name } ? "optional" : "required")
        return "    \(pad(parameter.name, 14)) \(pad("\(parameter.type.name), \(value)", 30)) \(parameter.help)"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(1, width - text.count))
    }
}
