/// The fault kinds this build implements. `faultline faults`, `--fault`, scenarios and the
/// control API all read this one list, so a kind is described in one place only.
public enum FaultRegistry {
    /// Every kind, in the order `faultline faults` lists them.
    public static let kinds: [FaultKind] = [
        Latency.kind, Bandwidth.kind, Slicer.kind, SlowClose.kind, Timeout.kind, ResetPeer.kind,
        LimitData.kind, Down.kind, ConnectDelay.kind, Cutoff.kind, RefuseUpstream.kind,
    ] + TLSFaults.kinds + RedisFaults.kinds + HTTPFaults.kinds

    /// The kind called `name`, or nil.
    public static func kind(named name: String) -> FaultKind? {
        kinds.first { $0.name == name }
    }

    /// The kind Toxiproxy calls `type` (`latency`), or faultline's own name used as a type.
    public static func kind(toxiproxyType type: String) -> FaultKind? {
        kinds.first { $0.toxiproxy?.type == type } ?? kind(named: type)
    }

    static func unknownKindMessage(_ name: String) -> String {
        let hint = Suggestion.closest(to: name, in: kinds.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
        return "unknown fault kind\(hint); known kinds: \(kinds.map(\.name).joined(separator: ", "))"
    }
}
