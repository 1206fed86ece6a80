/// When each timeline phase started and ended, from `phaseStarted` / `phaseEnded` events;
/// resolves an expectation's scope to a time window.
struct PhaseLog {
    private var starts: [String: Duration] = [:]
    private var ends: [String: Duration] = [:]

    /// Notes a phase event; other events are ignored. A phase name appears once in a
    /// timeline, so the first start and first end are kept.
    mutating func record(_ event: Event) {
        switch event.kind {
        case .phaseStarted(let name): if starts[name] == nil { starts[name] = event.time }
        case .phaseEnded(let name): if ends[name] == nil { ends[name] = event.time }
        default: break
        }
    }

    /// The window `scope` covers in a run that ended at `endTime`. A phase still running at
    /// the end is cut there; a phase that never started, or an `after:` phase that never
    /// ended, cannot be judged.
    func window(for scope: ExpectationSpec.Scope, endTime: Duration) throws -> ScopeWindow {
        switch scope {
        case .whole:
            return ScopeWindow(start: .zero, end: endTime, includesEnd: true)
        case .during(let phase):
            let start = try started(phase)
            guard let end = ends[phase], end < endTime else {
                return ScopeWindow(start: start, end: endTime, includesEnd: true)
            }
            return ScopeWindow(start: start, end: end, includesEnd: false)
        case .after(let phase):
            _ = try started(phase)
            guard let end = ends[phase] else {
                throw ExpectationProblem("phase '\(phase)' never ended, so nothing came after it")
            }
            return ScopeWindow(start: end, end: endTime, includesEnd: true)
        }
    }

    private func started(_ phase: String) throws -> Duration {
        guard let start = starts[phase] else { throw ExpectationProblem("phase '\(phase)' never started") }
        return start
    }
}
