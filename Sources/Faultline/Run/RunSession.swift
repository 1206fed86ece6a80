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
    /// `tls:`: terminate TLS toward clients; nil: plain.
    public let tls: ServerTLS?
    /// `upstream_tls:`: speak TLS to the upstream; nil: plain.
    public let upstreamTLS: UpstreamTLS?
    /// `protocol:`.
    public let `protocol`: ProxyProtocol

    /// Describes a proxy.
    public init(name: String, listen: SocketAddress, upstream: SocketAddress, tls: ServerTLS? = nil,
                upstreamTLS: UpstreamTLS? = nil, protocol: ProxyProtocol = .tcp) {
        self.name = name
        self.protocol = `protocol`
        self.listen = listen
        self.upstream = upstream
        self.tls = tls
        self.upstreamTLS = upstreamTLS
    }

    /// The proxy a scenario's entry asks for, TLS included.
    public init(_ proxy: ScenarioProxy) {
        self.init(name: proxy.name, listen: proxy.listen, upstream: proxy.upstream, tls: proxy.tls,
                  upstreamTLS: proxy.upstreamTLS, protocol: proxy.protocol)
    }
}

/// How a run ended, before expectations are judged.
public struct RunOutcome: Sendable {
    /// The command under test, when there was one.
    public let command: [String]?
    /// How the command ended; nil without a command, or if it outlived even SIGKILL's wait.
    public let commandExit: CommandExit?
    /// The signal that cut the run short, if one did.
    public let interruptedBy: Int32?
    /// A second signal, which killed the command at once: the run exits 128+N.
    public let forcedBy: Int32?
    /// From start to the moment the run was ended (before the command and proxies were stopped).
    public let duration: Duration
}

/// A scenario run: its proxies, its timeline and the command under test, on one loop.
///
/// The run ends when the timeline and the command have both finished, or when the command
/// exits if `stopWithCommand`, or on SIGINT/SIGTERM. However it ends, the command's process
/// group gets SIGTERM, then SIGKILL after `killAfter`, and the outcome is reported once no
/// process of the group is left: a run never leaves a process behind.
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
    private let commandOutput: CommandTerminal?
    private let stopWithCommand: Bool
    private let killAfter: Duration
    private var interruptedBy: Int32?
    private var forcedBy: Int32?
    private var ended = false
    private var reported = false
    private var stillStopping = 0
    private var duration: Duration = .zero
    private var onEnd: ((RunOutcome) -> Void)?
    private var started = ContinuousClock.now
    /// Per proxy, the certificate profiles its `tls.profile` faults switch to: their keys are
    /// made before anything listens, not when a phase starts.
    private var switchedProfiles: [String: [CertificateProfile]] = [:]

    /// Builds the proxies (not yet listening) and the timeline. With `commandOutput`, the
    /// command writes to that pty instead of faultline's terminal.
    public init(proxies plans: [ProxyPlan], phases: [Phase], wholeRun: [PlacedFault], seed: UInt64,
                command: [String]?, stopWithCommand: Bool, killAfter: Duration, commandOutput: CommandTerminal? = nil,
                loop: EventLoop, logger: Logger) {
        self.loop = loop
        self.log = logger
        self.stopWithCommand = stopWithCommand
        self.killAfter = killAfter
        self.command = command.map { CommandRunner(arguments: $0) }
        self.commandOutput = commandOutput
        var proxies: [String: Proxy] = [:]
        for plan in plans {
            var options = ProxyOptions()
            options.tls = plan.tls
            options.upstreamTLS = plan.upstreamTLS
            options.protocol = plan.protocol
            let proxy = Proxy(name: plan.name, listen: plan.listen, upstream: plan.upstream, options: options,
                              loop: loop, logger: logger)
            proxy.seed = seed
            proxies[plan.name] = proxy
        }
        self.proxies = proxies
        for placed in wholeRun + phases.flatMap(\.faults) {
            guard let profile = CertificateProfile(rawValue: placed.fault.word("profile")) else { continue }
            switchedProfiles[placed.proxy, default: []].append(profile)
        }
        timeline = Timeline(phases: phases, wholeRun: wholeRun, proxies: proxies, bus: bus, loop: loop)
        proxies.values.forEach { $0.bus = bus }
    }

    /// A session playing `scenario`'s proxies, timeline and whole-run faults.
    public convenience init(scenario: Scenario, seed: UInt64, command: [String]?, stopWithCommand: Bool,
                            killAfter: Duration, commandOutput: CommandTerminal? = nil, loop: EventLoop, logger: Logger) {
        self.init(proxies: scenario.proxies.map(ProxyPlan.init),
                  phases: scenario.timeline.map { phase in
                      Phase(name: phase.name, duration: phase.duration,
                            faults: phase.faults.map { PlacedFault(proxy: $0.proxy, fault: $0.fault) })
                  },
                  wholeRun: scenario.faults.map { PlacedFault(proxy: $0.proxy, fault: $0.fault) },
                  seed: seed, command: command, stopWithCommand: stopWithCommand, killAfter: killAfter,
                  commandOutput: commandOutput, loop: loop, logger: logger)
    }

    /// An evaluator of `scenario`'s expectations that counts requests on its protocol proxies.
    public static func evaluator(for scenario: Scenario) -> ExpectationEvaluator {
        let protocolProxies = Set(scenario.proxies.filter { $0.protocol != .tcp }.map(\.name))
        return ExpectationEvaluator(scenario.expectationSpecs, extractor: TCPFactExtractor(protocolProxies: protocolProxies))
    }

    /// Binds every proxy, starts the timeline, then the command; `onEnd` runs once on the loop.
    public func start(onEnd: @escaping (RunOutcome) -> Void) throws {
        self.onEnd = onEnd
        started = .now
        for proxy in proxies.values.sorted(by: { $0.name < $1.name }) {
            try proxy.prepare(profiles: switchedProfiles[proxy.name] ?? [])
            try proxy.start()
        }
        try timeline.start { [unowned self] in
            if command == nil || command?.exit != nil { end() }
        }
        guard let command else { return }
        try command.start(loop: loop, output: commandOutput) { [unowned self] exit in
            bus.emit(.commandExited(exit))
            log.info("command \(exit)")
            if stopWithCommand || timeline.isFinished { end() }
        }
        bus.emit(.commandStarted(command: command.arguments.joined(separator: " "), pid: command.pid))
    }

    /// The first SIGINT/SIGTERM: ends the run now (the command's group is stopped as always).
    /// The first one is announced on the bus before anything stops, so the user knows why the
    /// run has not ended yet while the command has `killAfter` to go.
    public func interrupt(_ signo: Int32) {
        if interruptedBy == nil {
            interruptedBy = signo
            let group = command.flatMap { $0.pid > 0 && $0.exit == nil ? $0.pid : nil }
            bus.emit(.stopping(signal: signo, commandGroup: group, killAfter: killAfter))
        }
        end()
    }

    /// Ends the run now, as if the timeline had finished (`DELETE /scenarios/current`).
    public func stop() { end() }

    /// A second signal: SIGKILL the command's group at once and report as soon as it is gone,
    /// without waiting for the proxies to drain.
    public func forceEnd(_ signo: Int32) {
        forcedBy = signo
        interrupt(signo)
        guard let command else { return report() }
        command.stopGroup(grace: .zero) { [unowned self] in report() }
    }

    private func end() {
        guard !ended else { return }
        ended = true
        duration = ContinuousClock.now - started
        if !timeline.isFinished { timeline.stop() }
        stillStopping = proxies.count + 1
        if let command {
            command.stopGroup(grace: killAfter) { [unowned self] in stopped() }
        } else {
            stopped()
        }
        for proxy in proxies.values {
            proxy.shutdown(grace: .seconds(1)) { [unowned self] in stopped() }
        }
    }

    private func stopped() {
        stillStopping -= 1
        if stillStopping == 0 { report() }
    }

    private func report() {
        guard !reported else { return }
        reported = true
        onEnd?(RunOutcome(command: command?.arguments, commandExit: command?.exit, interruptedBy: interruptedBy,
                          forcedBy: forcedBy, duration: duration))
    }
}
