/// `scenario.yaml` in a recording: the file as it was run, with the run's seed in it, so that
/// `faultline replay DIR` plays the same timeline with the same decisions.
public enum RecordedScenario {
    /// `original` with a header comment (faultline's version, the seed, where it came from)
    /// and its top-level `seed:` set to `seed` — replaced in place when the file has one,
    /// added at the end otherwise. Nil when the result does not load back with that seed
    /// (a flow-style document, say): the caller then keeps the original and says so.
    public static func text(_ original: String, seed: UInt64, source: String) -> String? {
        var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // A replay's recording of a recording: its header is replaced, not stacked.
        while let first = lines.first, first.hasPrefix("# Recorded by faultline ") || first.hasPrefix("# `faultline replay DIR`") {
            lines.removeFirst()
        }
        let header = [
            "# Recorded by faultline \(FaultlineVersion.current) from \(source), seed \(seed).",
            "# `faultline replay DIR` plays it again with the same seed and timeline.",
        ]
        if let index = lines.firstIndex(where: { $0.hasPrefix("seed:") || $0.hasPrefix("seed :") }) {
            lines[index] = "seed: \(seed)"
        } else {
            if lines.last == "" { lines.removeLast() }
            lines += ["seed: \(seed)", ""]
        }
        let text = (header + lines).joined(separator: "\n")
        guard let loaded = try? ScenarioLoader.load(yaml: text, file: source), loaded.seed == seed else { return nil }
        return text
    }
}
