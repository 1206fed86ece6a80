/// The judgement of one expectation after a run, with the figure it was judged on.
public struct Verdict: Sendable, Equatable {
    /// The expectation's label, as the scenario's `ExpectationSpec.label`.
    public let label: String
    /// The kind, e.g. `max_rate`.
    public let kind: String
    /// Pass, fail, or error when it could not be judged.
    public let status: Status
    /// What was seen, e.g. `max_rate 4.0/s ≤ 10/s` or `max_connection_attempts 7 > 6`.
    public let observed: String
    /// How long the stretch of the run it was judged on lasted (zero when it was not judged).
    public let judgedOver: Duration

    /// How an expectation came out.
    public enum Status: String, Sendable, Equatable {
        /// The client behaved as expected.
        case pass
        /// The client did not.
        case fail
        /// The expectation could not be judged (a phase that never ran, a check that needs
        /// a layer this proxy lacks). Counts as not passed: a run never passes by default.
        case error
    }

    /// Whether the expectation held. Errors are not passes.
    public var passed: Bool { status == .pass }

    /// Creates a verdict.
    public init(label: String, kind: String, status: Status, observed: String, judgedOver: Duration = .zero) {
        self.label = label
        self.kind = kind
        self.status = status
        self.observed = observed
        self.judgedOver = judgedOver
    }
}
