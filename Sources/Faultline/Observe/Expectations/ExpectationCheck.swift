/// How one expectation kind is judged. Each kind is a type in its own file, listed once in
/// `expectationChecks`; it sees facts only, never events.
protocol ExpectationCheck: Sendable {
    /// Name, parameters and the rule, for the loader and docs.
    static var info: ExpectationKindInfo { get }
    /// Judges the facts in `context`; throws `ExpectationProblem` when it cannot judge.
    static func evaluate(_ context: CheckContext) throws -> Outcome
}

/// A check's result before it becomes a `Verdict`.
struct Outcome: Equatable {
    let status: Verdict.Status
    /// The figure seen, e.g. `max_rate 4.0/s ≤ 10/s`.
    let observed: String

    static func pass(_ observed: String) -> Outcome { Outcome(status: .pass, observed: observed) }
    static func fail(_ observed: String) -> Outcome { Outcome(status: .fail, observed: observed) }
    static func error(_ observed: String) -> Outcome { Outcome(status: .error, observed: observed) }

    /// Pass when `holds`, else fail, with the same figure either way.
    static func judged(_ holds: Bool, _ observed: String) -> Outcome {
        Outcome(status: holds ? .pass : .fail, observed: observed)
    }
}

/// Why an expectation could not be judged (a missing parameter, a phase that never ran).
struct ExpectationProblem: Error, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The part of the run an expectation is judged on, resolved to times.
struct ScopeWindow: Equatable {
    let start: Duration
    let end: Duration
    /// Whether `end` itself is inside: true only when the window runs to the end of the run,
    /// so a fact exactly at a phase boundary belongs to the phase that starts there.
    let includesEnd: Bool

    func contains(_ time: Duration) -> Bool {
        time >= start && (time < end || (includesEnd && time == end))
    }

    var length: Duration { end - start }
}

/// What a check gets: the spec's parameters, the scope's window and the facts of its proxy.
struct CheckContext {
    let spec: ExpectationSpec
    let window: ScopeWindow
    /// The proxy's facts inside the window, by time; TLS facts are in `tls` only.
    let facts: [Fact]
    /// The proxy's facts from the window's start to the end of the run, by time: kinds that
    /// judge what follows something in scope (a quiet period, a probe, a first success) may
    /// see it happen after the phase ended. TLS facts are in `tls` only.
    let fromStart: [Fact]
    /// The proxy's TLS facts (handshakes, data after one) from the window's start to the end
    /// of the run, by time: a handshake in scope may be followed by data after the phase ended.
    let tls: [Fact]
    /// The end of the run.
    let endTime: Duration

    func number(_ name: String) throws -> Double {
        guard case .number(let value)? = spec.parameters[name] else { throw missing(name, "a number") }
        return value
    }

    func duration(_ name: String) throws -> Duration {
        guard case .duration(let value)? = spec.parameters[name] else { throw missing(name, "a duration") }
        return value
    }

    func flag(_ name: String) throws -> Bool {
        guard case .flag(let value)? = spec.parameters[name] else { throw missing(name, "true or false") }
        return value
    }

    func text(_ name: String) -> String? {
        if case .text(let value)? = spec.parameters[name] { value } else { nil }
    }

    /// A flag kind (`backoff: true`) only has a meaning when true; `false` is rejected rather
    /// than passed, so a typo cannot silently turn a check off.
    func requireTrue(_ name: String) throws {
        guard try flag(name) else {
            throw ExpectationProblem("\(spec.kind): false is not an expectation; write true or remove it")
        }
    }

    private func missing(_ name: String, _ type: String) -> ExpectationProblem {
        ExpectationProblem("\(spec.kind): parameter '\(name)' must be \(type)")
    }
}

extension Outcome {
    /// `KIND 7 > 6` / `KIND 4 ≤ 6`: a count against its upper limit.
    static func atMost(_ kind: String, count: Int, limit: Double) -> Outcome {
        let holds = Double(count) <= limit
        return .judged(holds, "\(kind) \(count) \(holds ? "≤" : ">") \(Figures.number(limit))")
    }
}
