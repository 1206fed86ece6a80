/// Judges a scenario's expectations from the events of a run.
///
/// Subscribe it to the run's `EventBus` (or call `observe` per event, on the loop thread),
/// then ask for `verdicts(endTime:)` when the run is over. Events become `Fact`s through a
/// `FactExtractor` (TCP's by default); each kind judges facts only, scoped by phase and proxy.
public final class ExpectationEvaluator {
    /// The expectations, in the order verdicts come out.
    public let specs: [ExpectationSpec]
    private var extractor: any FactExtractor
    private var facts: [Fact] = []
    private var phases = PhaseLog()

    /// An evaluator for `specs`; `extractor` decides what counts as an attempt, a request, a
    /// success or a failure (protocol proxies pass one that sees requests).
    public init(_ specs: [ExpectationSpec], extractor: any FactExtractor = TCPFactExtractor()) {
        self.specs = specs
        self.extractor = extractor
    }

    /// Feeds every event of `bus` to this evaluator from now on.
    public func subscribe(to bus: EventBus) {
        bus.subscribe { [weak self] event in self?.observe(event) }
    }

    /// Takes one event, in emission order.
    public func observe(_ event: Event) {
        phases.record(event)
        facts += extractor.facts(from: event)
    }

    /// The facts gathered so far (for tests and reports).
    var observedFacts: [Fact] { facts }

    /// One verdict per spec, in order. `endTime` is when the run ended on the bus's clock:
    /// phases still running are cut there, and later facts (connections closed while the
    /// proxies shut down) are left out.
    public func verdicts(endTime: Duration) -> [Verdict] {
        // Stable sort: facts of one event keep their order (attempt before request).
        let ordered = facts.enumerated()
            .filter { $0.element.time <= endTime }
            .sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            .map(\.element)
        return specs.map { verdict(for: $0, facts: ordered, endTime: endTime) }
    }

    private func verdict(for spec: ExpectationSpec, facts: [Fact], endTime: Duration) -> Verdict {
        var window: ScopeWindow?
        let outcome: Outcome
        do {
            outcome = try judge(spec, facts: facts, endTime: endTime, window: &window)
        } catch let problem as ExpectationProblem {
            outcome = .error(problem.message)
        } catch {
            outcome = .error("\(spec.kind): \(error)")
        }
        return Verdict(label: spec.label, kind: spec.kind, status: outcome.status, observed: outcome.observed,
                       judgedOver: window?.length ?? .zero)
    }

    private func judge(_ spec: ExpectationSpec, facts: [Fact], endTime: Duration,
                       window resolved: inout ScopeWindow?) throws -> Outcome {
        guard let check = expectationChecks.first(where: { $0.info.name == spec.kind }) else {
            let known = expectationChecks.map { $0.info.name }.joined(separator: ", ")
            throw ExpectationProblem("unknown expectation '\(spec.kind)'; known: \(known)")
        }
        // The loader checks parameters too; checking again keeps a hand-built spec from
        // being judged on half its parameters.
        if let problem = check.info.problems(in: spec.parameters).first { throw ExpectationProblem(problem) }
        let window = try phases.window(for: spec.scope, endTime: endTime)
        resolved = window
        let mine = facts.filter { spec.proxy == nil || $0.proxy == spec.proxy }
        // TLS facts go apart, so no counting or timing check can mistake a handshake for traffic.
        let traffic = mine.filter { !$0.isTLS }
        let context = CheckContext(
            spec: spec, window: window,
            facts: traffic.filter { window.contains($0.time) },
            fromStart: traffic.filter { $0.time >= window.start },
            tls: mine.filter { $0.isTLS && $0.time >= window.start },
            endTime: endTime)
        return try check.evaluate(context)
    }
}
