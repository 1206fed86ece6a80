import Logging

/// `/scenarios`: a scenario started through the API (`faultline serve`), or the run that
/// serves the API (`faultline run --api`), with its phase, time and verdict so far.
///
/// One scenario plays at a time. Its proxies join the `ControlPlane` while it runs (toxics can
/// be added to them, they cannot be deleted) and leave when it ends; its events reach the API's
/// bus, so `/events` and `/metrics` see them. The last verdict stays readable until the next start.
public final class ScenarioControl {
    private let plane: ControlPlane
    private let log: Logger
    private var run: ScenarioRun?
    /// Runs replaced while their proxies still drain (stopped, then another started at once):
    /// their proxies call back into their session when drained, so it must outlive them.
    private var retiring: [ObjectIdentifier: ScenarioRun] = [:]
    /// Whether the API is served by `faultline run` (its scenario is the only one).
    private var servedByRun = false

    /// Scenarios over `plane`'s proxies and bus.
    public init(plane: ControlPlane, log: Logger) {
        self.plane = plane
        self.log = log
    }

    /// Shows the run serving the API (`faultline run --api`); POST /scenarios is then refused.
    public func attach(_ session: RunSession, scenario: Scenario, evaluator: ExpectationEvaluator, seed: UInt64) {
        servedByRun = true
        run = ScenarioRun(scenario: scenario, session: session, evaluator: evaluator, seed: seed)
        plane.adopt(session.proxies, scenario: scenario)
    }

    /// The run serving the API ended: its verdict is final.
    public func attachedRunEnded(verdicts: [Verdict], outcome: RunOutcome) {
        run?.finish(verdicts: verdicts, stopped: outcome.interruptedBy != nil)
    }

    /// `POST /scenarios`: checks the YAML or JSON body as `faultline check` would (400 with
    /// every `line:col` error), then starts it (201 and its state).
    func start(body: [UInt8], contentType: String?) throws(APIError) -> APIResponse {
        if servedByRun {
            throw APIError("this API is served by faultline run, which plays \(run?.scenario.name ?? "its scenario"); start scenarios on faultline serve", status: 409)
        }
        if let run, run.state == .running {
            throw APIError("scenario \(run.scenario.name) is running; DELETE /scenarios/current stops it", status: 409)
        }
        guard let text = String(validating: body, as: UTF8.self) else {
            throw .badBody("a scenario must be UTF-8 YAML or JSON text")
        }
        guard !text.allSatisfy(\.isWhitespace) else { throw .badBody("EOF") }
        let scenario: Scenario
        do {
            scenario = try ScenarioLoader.load(yaml: text, file: "scenario")
        } catch {
            return Self.invalid(error)
        }
        for proxy in scenario.proxies where plane.proxies[proxy.name] != nil {
            throw APIError("proxy \(proxy.name) already exists; delete it or rename the scenario's", status: 409)
        }
        let seed = scenario.seed ?? plane.seed
        let session = RunSession(scenario: scenario, seed: seed, command: nil, stopWithCommand: false,
                                 killAfter: .seconds(5), loop: plane.loop, logger: log)
        let evaluator = RunSession.evaluator(for: scenario)
        evaluator.subscribe(to: session.bus)
        let bus = plane.bus
        session.bus.subscribe { event in bus.emit(event.kind, proxy: event.proxy, link: event.link) }
        // A recording of the server captures the scenario's proxies too.
        session.bus.capture = bus.capture
        let started = ScenarioRun(scenario: scenario, session: session, evaluator: evaluator, seed: seed)
        started.announcesVerdicts = true
        plane.adopt(session.proxies, scenario: scenario)
        do {
            try session.start { [weak self, weak started] outcome in
                guard let self, let started else { return }
                started.finish(verdicts: started.evaluator.verdicts(endTime: outcome.duration), stopped: started.stopRequested)
                started.reported = true
                plane.release(started.session.proxies.keys)
                retiring[ObjectIdentifier(started)] = nil
                log.info("scenario \(started.scenario.name) ended: \(started.state.rawValue)")
            }
        } catch {
            session.proxies.values.forEach { $0.shutdown(grace: .zero) {} }
            plane.release(session.proxies.keys)
            throw ControlPlane.listenFailure(error)
        }
        plane.scenarioStarted?(text, seed)
        if let previous = run, !previous.reported { retiring[ObjectIdentifier(previous)] = previous }
        run = started
        log.info("scenario \(scenario.name) started (seed \(seed))")
        return .json(started.json(now: session.bus.now), status: 201)
    }

    /// `GET /scenarios/current`: the running scenario, or the last one's final verdict.
    func current() throws(APIError) -> APIResponse {
        guard let run else { throw APIError("no scenario has been started", status: 404) }
        return .json(run.json(now: run.session.bus.now))
    }

    /// `DELETE /scenarios/current`: ends the running scenario now; its verdict is judged over
    /// the time it ran. 200 with the final state.
    func stop() throws(APIError) -> APIResponse {
        guard let run, run.state == .running else { throw APIError("no scenario is running", status: 404) }
        if servedByRun {
            throw APIError("this API is served by faultline run; stop the run itself (SIGINT or SIGTERM)", status: 409)
        }
        run.stopRequested = true
        let now = run.session.bus.now
        run.finish(verdicts: run.evaluator.verdicts(endTime: now), stopped: true)
        run.session.stop()
        return .json(run.json(now: now))
    }

    /// A scenario body that does not load: 400 with each error as `scenario:line:col: message`.
    private static func invalid(_ errors: ScenarioErrors) -> APIResponse {
        let count = errors.issues.count
        let body = JSONValue.object(JSONObject([
            "error": .string("the scenario has \(count) error\(count == 1 ? "" : "s"): \(errors.issues.first?.description ?? "")"),
            "status": .int(400),
            "errors": .array(errors.issues.map { .string($0.description) }),
        ]))
        return .goError(body.text, status: 400)
    }
}

/// One scenario being played (or played), as the API shows it.
final class ScenarioRun {
    enum State: String { case running, passed, failed, stopped }
    let scenario: Scenario
    let session: RunSession
    let evaluator: ExpectationEvaluator
    let seed: UInt64
    private(set) var state = State.running
    private(set) var finalVerdicts: [Verdict]?
    private var endedAt: Duration?
    var stopRequested = false
    /// The session has reported its end: its proxies are drained and released.
    var reported = false
    /// The verdicts go out as `verdict` events when final (not for the run serving the API,
    /// which announces its own).
    var announcesVerdicts = false

    init(scenario: Scenario, session: RunSession, evaluator: ExpectationEvaluator, seed: UInt64) {
        self.scenario = scenario
        self.session = session
        self.evaluator = evaluator
        self.seed = seed
    }

    func finish(verdicts: [Verdict], stopped: Bool) {
        guard finalVerdicts == nil else { return }
        finalVerdicts = verdicts
        endedAt = session.bus.now
        state = stopped ? .stopped : (verdicts.allSatisfy(\.passed) ? .passed : .failed)
        guard announcesVerdicts else { return }
        for verdict in verdicts {
            session.bus.emit(.verdict(label: verdict.label, expectation: verdict.kind, status: verdict.status.rawValue,
                                      observed: verdict.observed))
        }
    }

    /// `{name, state, seed, elapsed, duration, phase, phases, verdicts}`; verdicts are final
    /// once the state is not `running`, and so far before.
    func json(now: Duration) -> JSONValue {
        let elapsed = endedAt ?? now
        let timeline = session.timeline
        let phase = state == .running ? timeline.currentPhase?.name : nil
        var start = Duration.zero
        var phases: [JSONValue] = []
        for entry in scenario.timeline {
            let end = start + entry.duration
            let reached = elapsed >= start
            let phaseState = elapsed >= end ? "done" : (reached ? (state == .running ? "running" : "cut") : "pending")
            phases.append(.object(JSONObject([
                "name": .string(entry.name), "start": Self.seconds(start), "for": Self.seconds(entry.duration),
                "state": .string(entry.name == phase ? "running" : phaseState),
            ])))
            start = end
        }
        let verdicts = finalVerdicts ?? evaluator.verdicts(endTime: now)
        let phaseStates = Dictionary(phases.compactMap { entry -> (String, String)? in
            guard case .object(let object) = entry, case .string(let name)? = object["name"],
                  case .string(let state)? = object["state"] else { return nil }
            return (name, state)
        }, uniquingKeysWith: { first, _ in first })
        return .object(JSONObject([
            "name": .string(scenario.name),
            "state": .string(state.rawValue),
            "seed": .number(String(seed)),
            "elapsed": Self.seconds(elapsed),
            "duration": Self.seconds(scenario.duration),
            "phase": phase.map(JSONValue.string) ?? .null,
            "phases": .array(phases),
            "proxies": .array(scenario.proxies.map { .string($0.name) }),
            "verdicts": .array(zip(evaluator.specs, verdicts).map { spec, verdict in
                // While running, an expectation whose window has not opened has nothing to say yet.
                let waiting: String? = switch spec.scope {
                case .whole: nil
                case .during(let phase): phaseStates[phase] == "pending" ? "phase \(phase) has not started" : nil
                case .after(let phase): phaseStates[phase] == "done" ? nil : "phase \(phase) has not ended"
                }
                let pending = finalVerdicts == nil ? waiting : nil
                return .object(JSONObject([
                    "label": .string(verdict.label), "kind": .string(verdict.kind),
                    "status": .string(pending == nil ? verdict.status.rawValue : "pending"),
                    "observed": .string(pending ?? verdict.observed),
                    "final": .bool(finalVerdicts != nil),
                ]))
            }),
        ]))
    }

    private static func seconds(_ duration: Duration) -> JSONValue {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return .number(String(format3(millis)))
    }

    private static func format3(_ millis: Int64) -> String {
        let sign = millis < 0 ? "-" : ""
        let magnitude = millis.magnitude
        let fraction = String(magnitude % 1000)
        return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
