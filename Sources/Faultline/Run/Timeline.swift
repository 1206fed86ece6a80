/// A fault placed on one proxy by a scenario.
public struct PlacedFault: Sendable {
    /// The proxy's name.
    public let proxy: String
    /// The fault.
    public let fault: Fault

    /// Places `fault` on the proxy called `proxy`.
    public init(proxy: String, fault: Fault) {
        self.proxy = proxy
        self.fault = fault
    }
}

/// One phase of a timeline: its faults are active for `duration`.
public struct Phase: Sendable {
    /// The phase's name, used by `during:` and `after:`.
    public let name: String
    /// How long the phase lasts.
    public let duration: Duration
    /// Faults active during the phase only.
    public let faults: [PlacedFault]

    /// Creates a phase.
    public init(name: String, duration: Duration, faults: [PlacedFault]) {
        self.name = name
        self.duration = duration
        self.faults = faults
    }
}

/// Plays phases in order on the loop: the only thing that turns a scenario's faults on and
/// off. Whole-run faults go on at `start()` and stay until `stop()`.
public final class Timeline {
    private let phases: [Phase]
    private let wholeRun: [PlacedFault]
    private let proxies: [String: Proxy]
    private let bus: EventBus
    private var current = -1
    private lazy var timer = Timer(loop: loop) { [unowned self] in advance() }
    private let loop: EventLoop
    private var onFinish: (() -> Void)?
    private var started: ContinuousClock.Instant?

    /// A timeline over `proxies` (by name); faults name proxies that must be in it.
    public init(phases: [Phase], wholeRun: [PlacedFault], proxies: [String: Proxy], bus: EventBus, loop: EventLoop) {
        self.phases = phases
        self.wholeRun = wholeRun
        self.proxies = proxies
        self.bus = bus
        self.loop = loop
    }

    /// Sum of the phases' durations.
    public var totalDuration: Duration { phases.reduce(.zero) { $0 + $1.duration } }

    /// The phase playing now, if any.
    public var currentPhase: Phase? { phases.indices.contains(current) ? phases[current] : nil }

    /// Time since `start()`.
    public var elapsed: Duration { started.map { ContinuousClock.now - $0 } ?? .zero }

    /// Whether every phase has ended.
    public var isFinished: Bool { current >= phases.count }

    /// Turns on the whole-run faults and starts the first phase; `onFinish` runs after the last.
    public func start(onFinish: @escaping () -> Void) throws {
        self.onFinish = onFinish
        started = .now
        try apply(wholeRun)
        try enter(0)
    }

    /// Ends the current phase early and removes every scenario fault.
    public func stop() {
        timer.cancel()
        if let phase = currentPhase { leave(phase) }
        current = phases.count
        wholeRun.forEach { proxies[$0.proxy]?.removeFault(named: $0.fault.name) }
    }

    private func advance() {
        if let phase = currentPhase { leave(phase) }
        do {
            try enter(current + 1)
        } catch {
            proxies.values.first?.log.error("cannot start phase: \(error)")
            stop()
            finish()
        }
    }

    private func enter(_ index: Int) throws {
        current = index
        guard let phase = currentPhase else { return finish() }
        bus.emit(.phaseStarted(name: phase.name))
        try apply(phase.faults)
        timer.schedule(after: phase.duration)
    }

    private func leave(_ phase: Phase) {
        phase.faults.forEach { proxies[$0.proxy]?.removeFault(named: $0.fault.name) }
        bus.emit(.phaseEnded(name: phase.name))
    }

    private func apply(_ faults: [PlacedFault]) throws {
        for placed in faults {
            guard let proxy = proxies[placed.proxy] else {
                throw FaultSpecError(text: placed.fault.name, reason: "no proxy called \(placed.proxy)")
            }
            try proxy.add(placed.fault)
        }
    }

    private func finish() {
        let done = onFinish
        onFinish = nil
        done?()
    }
}
