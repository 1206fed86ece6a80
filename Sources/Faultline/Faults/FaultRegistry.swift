/// The fault kinds this build implements, by name. `faultline faults`, `--fault` and
/// scenario validation all read this one list, so a kind is described in one place only.
public enum FaultRegistry {
    /// Names of every implemented kind, sorted.
    public static let kinds: [String] = []

    /// Checks that `spec` names a known kind with known, well-typed parameters.
    public static func validate(_ spec: FaultSpec) throws {
        guard kinds.contains(spec.kind) else {
            let known = kinds.isEmpty ? "this build implements no fault kinds yet" : "known kinds: \(kinds.joined(separator: ", "))"
            throw FaultSpecError(text: spec.kind, reason: "unknown fault kind; \(known)")
        }
    }
}
