import Glibc
import Logging

/// One proxy a scenario asks for.
public struct ProxyPlan: Sendable {
    /// The proxy's name in the scenario.
    public let name: String
    /// Where it accepts clients.
    public let listen: SocketAddress
    /// Where it forwards.
    public let upstream: SocketAddress

    /// Describes a proxy.
    public init(name: String, listen: SocketAddress, upstream: SocketAddress) {
        self.name = name
        self.listen = listen
        self.upstream = upstream
    }
}

/// How a run ended, before expectations are judged.
public struct RunOutcome: Sendable {
    /// The command's exit status, when there was a command and it ended.
    public let commandStatus: Int32?
    /// The signal that cut the run short, if one did.
    public let interruptedBy: Int32?
    /// From start to end.
    public let duration: Duration
}

/// A scenario run: its proxies, its timeline and the command under test, on one loop.
///
/// The run ends when the timeline and the command have both finished, or when the command
/// exits if `stopWithCommand`, or on SIGINT/SIGTERM (forwarded to the command first).
public final class RunSession {
    /// Every fact of the run; subscribe before `start()`.
    public let bus = EventBus()
    /// The proxies by name.
    public let proxies: [String: Proxy]
    /// The timeline being played.
    public let timeline: Timeline
    private let loop: EventLoop
    private let log: Logger
    private let command: CommandRunner?
    private let stopWithCommand: Bool
    private var interruptedBy: Int32?
    private var ended = false
    private var onEnd: ((RunOutcome) -> Void)?
    private var started = ContinuousClock.now

    /// Builds the proxies (not yet listening) and the timeline.
    public init(proxies plans: [ProxyPlan], phases: [Phase], wholeRun: [PlacedFault], seed: UInt64,
                command: [String]?, stopWithCommand: Bool, loop: EventLoop, logger: Logger) {
        self.loop = loop
        self.log = logger
        self.stopWithCommand = stopWithCommand
        self.command = command.map { CommandRunner(arguments: $0) }
        var proxies: [String: Proxy] = [:]
        for plan in plans {
            let proxy = Proxy(name: plan.name, listen: plan.listen, upstream: plan.upstream, loop: loop, logger: logger)
            proxy.seed = seed
            proxies[plan.name] = proxy
        }
        self.proxies = proxies
        timeline = Timeline(phases: phases, wholeRun: wholeRun, proxies: proxies, bus: bus, loop: loop)
        proxies.values.forEach { $0.bus = bus }
    }

    /// Binds every proxy, starts the timeline, then the command; `onEnd` runs once on the loop.
    public func start(onEnd: @escaping (RunOutcome) -> Void) throws {
        self.onEnd = onEnd
        started = .now
        for proxy in proxies.values.sorted(by: { $0.name < $1.name }) { try proxy.start() }
        try timeline.start { [unowned self] in
            if command == nil || command?.status != nil { end() }
        }
        guard let command else { return }
        try command.start(loop: loop) { [unowned self] status in
            bus.emit(.commandExited(status: status))
            log.info("command exited with status \(status)")
            if stopWithCommand || timeline.isFinished || interruptedBy != nil { end() }
        }
        bus.emit(.commandStarted(command: command.arguments.joined(separator: " "), pid: command.pid))
    }

    /// SIGINT/SIGTERM: forward to the command, stop the timeline, end once the command is gone.
    public func interrupt(_ signo: Int32) {
        interruptedBy = signo
        timeline.stop()
        guard let command, command.status == nil else { return end() }
        command.signal(signo)
    }

    /// Whether the command is still running.
    public var commandRunning: Bool { command != nil && command?.status == nil }

    private func end() {
        guard !ended else { return }
        ended = true
        if !timeline.isFinished { timeline.stop() }
        command?.signal(SIGTERM)
        let outcome = RunOutcome(commandStatus: command?.status, interruptedBy: interruptedBy,
                                 duration: ContinuousClock.now - started)
        var open = proxies.count
        if open == 0 { return onEnd?(outcome) ?? () }
        for proxy in proxies.values {
            proxy.shutdown(grace: .seconds(1)) { [unowned self] in
                open -= 1
                if open == 0 { onEnd?(outcome) }
            }
        }
    }
}
