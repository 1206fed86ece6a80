import CEvent
import Glibc
import Logging

/// Settings of one proxy that are not its addresses.
public struct ProxyOptions: Sendable {
    /// How long an upstream connect may take before the client is closed.
    public var connectTimeout: Duration = .seconds(10)
    /// Buffer sizes and the per-link memory bound.
    public var limits = PipeLimits()
    /// Listen backlog (the kernel caps it at net.core.somaxconn).
    public var backlog: Int32 = 4096
    /// What the proxy's links speak: `redis` frames commands and replies (and takes `redis.*`
    /// faults); `tcp` moves bytes.
    public var `protocol`: ProxyProtocol = .tcp
    /// `tls:`: terminate TLS toward clients with this certificate profile; nil: plain.
    public var tls: ServerTLS?
    /// `upstream_tls:`: speak TLS to the upstream; nil: plain.
    public var upstreamTLS: UpstreamTLS?
    /// Where the CA that signs `tls:` certificates is kept (created on first use); relative
    /// paths are from the working directory, so `certs` and `run` in one directory share it.
    public var certificateAuthority = ".faultline/ca"

    /// The defaults: 10 s connect timeout, ~640 KB per link, backlog 4096.
    public init() {}
}

/// Counters a proxy keeps about its links.
public struct ProxyStats: Sendable {
    /// Client connections accepted.
    public var accepted: UInt64 = 0
    /// Links open now.
    public var open: Int = 0
    /// Upstream connects that were refused, unreachable or timed out.
    public var upstreamFailures: UInt64 = 0
    /// Bytes read on the splice path (spliced, or copied through without a fault seeing them).
    public var bytesDirect: UInt64 = 0
    /// Bytes read on the buffered path, where byte-touching faults see them.
    public var bytesBuffered: UInt64 = 0
    /// Client TLS handshakes that completed, and that failed (either side gave up).
    public var handshakesCompleted: UInt64 = 0
    public var handshakesFailed: UInt64 = 0
}

/// A listening address forwarding every connection to one upstream.
///
/// All methods must be called on the loop's thread.
public final class Proxy {
    /// The proxy's name in logs and, later, in scenarios and the API.
    public let name: String
    /// Where the upstream listens (the control API may change it: `retarget`).
    public internal(set) var upstream: SocketAddress
    /// Connect timeout, limits, backlog.
    public let options: ProxyOptions
    let loop: EventLoop
    let log: Logger
    /// Debug logging is on: each link's open, connect and close get a line (else their
    /// loggers are never even made).
    let logsLinks: Bool
    var requestedListen: SocketAddress
    var listener: Listener?
    /// Started and not shut down or disabled: accepting, unless a fault closed the port.
    var listening = false
    private(set) var links: [ObjectIdentifier: Link] = [:]
    /// The certificates clients meet, per profile (`tls:`); made by `start()`.
    private(set) var serverTLS: ServerTLSContexts?
    /// TLS toward the upstream (`upstream_tls:`); made by `start()`.
    var upstreamTLSContext: UpstreamTLSContext?
    private var warnedUntrustedCA = false
    var faultStates: [FaultState] = []
    /// How many of them act on Redis commands: each command asks, so it is kept, not counted.
    var commandFaults = 0
    /// Seeds every per-connection decision of this proxy's faults.
    public var seed: UInt64 = 0
    /// Where the proxy reports connections and faults; shared by every proxy of a run.
    public var bus = EventBus()
    private var retired: [Link] = []
    /// Frees closed links on the next loop turn; made by `start()`, so the proxy's own timers
    /// all exist before the first link and per-link counts compare cleanly.
    private var reaper: Timer?
    private var nextLinkID: UInt64 = 0
    var boundWhileSuspended: SocketAddress?
    private var rebindBackoff = RetryBackoff(initial: .milliseconds(100), cap: .seconds(5))
    var rebindTimer: Timer?
    private var drainTimer: Timer?
    private var onDrained: (() -> Void)?
    /// Counters about links, for logs and tests.
    public private(set) var stats = ProxyStats()

    /// Creates a proxy; nothing listens until `start()`.
    public init(name: String, listen: SocketAddress, upstream: SocketAddress,
                options: ProxyOptions = ProxyOptions(), loop: EventLoop, logger: Logger) {
        self.name = name
        self.requestedListen = listen
        self.upstream = upstream
        self.options = options
        self.loop = loop
        var log = logger
        log[metadataKey: "proxy"] = "\(name)"
        self.log = log
        logsLinks = log.logLevel <= .debug
    }

    /// The path new and live links use. Setting it moves every open link at once.
    public var dataPath: DataPath = .splice {
        didSet { links.values.forEach { $0.refreshPath() } }
    }

    /// The bound listen address (with the real port when 0 was asked for); nil before `start()`.
    public var listenAddress: SocketAddress? { listener?.address ?? boundWhileSuspended }

    /// Binds the listen address and starts accepting. Throws `SelfLoopError` when the
    /// upstream is this listen address: every connection would connect to itself again.
    public func start() throws {
        if upstream.reaches(listener: requestedListen) {
            throw SelfLoopError(proxy: name, listen: requestedListen, upstream: upstream)
        }
        try prepareTLS()
        if reaper == nil { reaper = Timer(loop: loop) { [unowned self] in retired.removeAll() } }
        try bind(requestedListen)
        listening = true
        let address = listener?.address.description ?? requestedListen.description
        log.info("listening on \(address), forwarding to \(upstream)")
        if let serverTLS { log.info("toward clients: \(serverTLS.description)") }
        if let upstreamTLSContext { log.info("toward the upstream: \(upstreamTLSContext.description)") }
        bus.emit(.listening(address: address), proxy: name)
        if let down = faults.first(where: { $0.kind.closesListener($0) }) {
            suspendListening()
            let named = down.name == down.kind.name ? down.name : "\(down.name) (\(down.kind.name))"
            log.info("port \(address) closed by \(named) (mode=\(down.word("mode"))): connects are refused until the fault ends")
        }
    }

    /// Loads (or creates) the CA and makes the TLS contexts before anything listens: key
    /// generation never happens while a client waits.
    private func prepareTLS() throws(TLSSetupError) {
        if let tls = options.tls, serverTLS == nil {
            do {
                let authority = try CertificateAuthority.openOrCreate(directory: options.certificateAuthority)
                let contexts = try ServerTLSContexts(settings: tls, authority: authority,
                                                     alpn: options.protocol == .http ? "http/1.1" : nil)
                // Faults added before start (`--fault tls.profile:…`) found no contexts to prepare.
                for fault in faults {
                    if let profile = CertificateProfile(rawValue: fault.word("profile")) { try contexts.prepare(profile) }
                }
                serverTLS = contexts
            } catch {
                throw TLSSetupError(leg: .client, reason: "\(error)")
            }
        }
        if let settings = options.upstreamTLS, upstreamTLSContext == nil {
            do {
                upstreamTLSContext = try UpstreamTLSContext(settings: settings, upstream: upstream)
            } catch {
                throw TLSSetupError(leg: .upstream, reason: "\(error)")
            }
        }
    }

    /// A client refused the `valid` profile's chain: it trusts another root than this run's CA.
    /// Said once per proxy, at warning: every later verdict depends on it.
    func warnUntrustedCA(alert: String) {
        guard !warnedUntrustedCA, let serverTLS else { return }
        warnedUntrustedCA = true
        log.warning("a client refused the valid certificate (alert \(alert)): it does not trust this run's CA, \(serverTLS.authorityDescription); give it the root from that directory (or the ca.pem faultline certs writes there)")
    }

    /// Makes the TLS contexts of `profiles` now (the profiles a scenario's `tls.profile` faults
    /// switch to), so that switching later generates no key on the loop.
    public func prepare(profiles: [CertificateProfile]) throws(TLSSetupError) {
        try prepareTLS()
        for profile in profiles {
            do { try serverTLS?.prepare(profile) } catch { throw TLSSetupError(leg: .client, reason: "\(error)") }
        }
    }

    private func bind(_ address: SocketAddress) throws {
        listener = try Listener(loop: loop, address: address, backlog: options.backlog, log: log) { [unowned self] fd in
            accept(fd)
        }
    }

    /// Closes the listening socket so connects are refused (`tcp.down mode=refuse`); the
    /// bound address is kept for `resumeListening()`.
    func suspendListening() {
        rebindTimer?.cancel()
        rebindBackoff.reset()
        guard let bound = listener?.address else { return }
        boundWhileSuspended = bound
        listener?.close()
        listener = nil
    }

    /// Listens again on the address `suspendListening()` closed. Another process may have
    /// taken the port meanwhile: then it retries, waiting 100 ms doubling to 5 s, with one
    /// warning, until the port is free, and says so (log and `.listening`) when it binds.
    func resumeListening() {
        guard listening, listener == nil, let address = boundWhileSuspended else { return }
        do {
            try bind(address)
        } catch {
            let wait = rebindBackoff.failed()
            if rebindBackoff.failures == 1 {
                let reason = (error as? ListenError).map { Socket.describe($0.code) } ?? "\(error)"
                log.warning("tcp.down ended, but cannot listen on \(address) again: \(reason); retrying (every 100ms to 5s) until the port is free")
            }
            if rebindTimer == nil { rebindTimer = Timer(loop: loop) { [unowned self] in resumeListening() } }
            rebindTimer?.schedule(after: wait)
            return
        }
        guard rebindBackoff.failures > 0 else { return }
        log.info("listening again on \(address) after \(rebindBackoff.failures) failed attempts")
        rebindBackoff.reset()
        bus.emit(.listening(address: address.description), proxy: name)
    }

    /// Stops accepting, lets every link write what it already read, then closes them.
    /// Calls `done` once no link is left or `grace` has passed (the rest are then cut).
    public func shutdown(grace: Duration = .seconds(2), done: @escaping () -> Void) {
        listening = false
        rebindTimer?.cancel()
        listener?.close()
        listener = nil
        onDrained = done
        drainTimer = Timer(loop: loop) { [unowned self] in
            log.warning("\(links.count) links still open after \(grace); closing them")
            links.values.forEach { $0.abandon() }
            finishDrain()
        }
        drainTimer?.schedule(after: grace)
        links.values.forEach { $0.drainAndClose() }
        if links.isEmpty { finishDrain() }
    }

    private func finishDrain() {
        drainTimer?.cancel()
        let done = onDrained
        onDrained = nil
        done?()
    }

    private func accept(_ fd: Int32) {
        nextLinkID += 1
        stats.accepted += 1
        let link = Link(id: nextLinkID, client: fd, proxy: self)
        if let capture = bus.capture, capture.active {
            link.capture = LinkCapture(capture: capture, proxy: self, client: fd, link: link.id)
        }
        links[ObjectIdentifier(link)] = link
        stats.open = links.count
        if logsLinks { link.log.debug("accepted") }
        bus.emit(.connectionOpened, proxy: name, link: link.id)
        selectFaults(for: link)
        link.start()
    }

    /// A link ran out of descriptors for its upstream socket: the listener gives up its spare
    /// (and pauses accepting); false when it had none.
    func yieldSpareDescriptor() -> Bool { listener?.yieldSpare() ?? false }

    func noteUpstreamFailure() { stats.upstreamFailures += 1 }

    func noteHandshake(completed: Bool) {
        if completed {
            stats.handshakesCompleted += 1
        } else {
            stats.handshakesFailed += 1
        }
    }

    func noteBytes(_ count: Int, buffered: Bool) {
        if buffered {
            stats.bytesBuffered &+= UInt64(count)
        } else {
            stats.bytesDirect &+= UInt64(count)
        }
    }

    /// A link closed its sockets. It is freed on the next loop turn, so the callback that
    /// closed it never returns into a freed object.
    func linkClosed(_ link: Link) {
        guard let gone = links.removeValue(forKey: ObjectIdentifier(link)) else { return }
        retired.append(gone)
        reaper?.fireSoon()
        stats.open = links.count
        if links.isEmpty && onDrained != nil { finishDrain() }
    }
}

/// TLS could not be set up before listening: the CA cache, a certificate, or the upstream's
/// trusted roots. `leg` says which settings to fix (`tls:` or `upstream_tls:`).
public struct TLSSetupError: Error, CustomStringConvertible {
    /// Toward the client (`tls:`, `--tls-profile`) or toward the upstream (`upstream_tls:`).
    public enum Leg: Sendable { case client, upstream }
    public let leg: Leg
    /// What failed and why, naming the file.
    public let reason: String
    public var description: String { reason }
}
