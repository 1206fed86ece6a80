/// The release this build is.
public enum FaultlineVersion {
    /// Semantic version, printed by `faultline --version`.
    public static let current = "0.1.0"
}
