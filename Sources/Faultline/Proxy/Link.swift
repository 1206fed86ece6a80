import CEvent
import Glibc
import Logging

/// One client connection and its upstream connection: the two `Pipe`s between them and the
/// rules for ending them (FIN mirrors FIN, RST mirrors RST).
final class Link {
    /// Process-unique, increasing; appears in every log line about this link.
    let id: UInt64
    /// The proxy owns its links and outlives them (closed links wait in its reaper list);
    /// `unowned(unsafe)` spares the reference counting on every chunk.
    unowned(unsafe) let proxy: Proxy
    let client: Int32
    private(set) var upstream: Int32 = -1
    private var connectEvent: OpaquePointer?
    private var toUpstream: Pipe?
    private var toClient: Pipe?
    private var closed = false
    /// `start()` ran: faults added from now on are told the client was accepted.
    private var started = false
    /// This link's logger (its id in every line), made on first use: most links never log.
    private(set) lazy var log: Logger = {
        var log = proxy.log
        log[metadataKey: "link"] = "\(id)"
        return log
    }()
    /// When the client was accepted.
    let openedAt = ContinuousClock.now
    /// When a byte last arrived from either side (`tcp.cutoff` with `idle`).
    private(set) var lastActivity = ContinuousClock.now
    /// `tcp.cutoff how=drop` forgot this flow: nothing will pass again.
    private var dropped = false
    /// Draining at shutdown, waiting for the answers to requests that went on.
    var awaitingAnswers = false
    /// `tcp.limit_data`: close the whole link once a pipe has sent its FIN.
    var closeWhenFinished = false
    /// A request is outstanding: the client sent, and no reply reached it yet. Kept only
    /// while someone observes the bus (expectations), so unobserved proxies pay one branch.
    private var exchangeOutstanding = false
    /// What each fault that applies to this link does to it, by fault name.
    private(set) var effects: [String: any LinkEffect] = [:]
    private var connectTimer: Timer?
    /// TLS toward the client (`tls:`) and toward the upstream (`upstream_tls:`), from the
    /// start of their handshakes; the pipes read and write through them.
    var clientTLS: TLSSession?
    var upstreamTLS: TLSSession?
    /// The handshake under way on either leg.
    var handshake: TLSHandshake?
    /// The certificate profile the client meets (its handshake's events name it).
    var profile: CertificateProfile?
    /// The protocol on this link (`protocol: redis` or `http`), from when the pipes start.
    private(set) var session: (any LinkSession)?
    /// The link's packets in the recording's capture, while one runs (`--record`).
    var capture: LinkCapture?
    private let live: LiveToken

    init(id: UInt64, client: Int32, proxy: Proxy) {
        self.id = id
        self.client = client
        self.proxy = proxy
        live = LiveToken(.link, on: proxy.loop)
    }

    deinit {
        if let connectEvent { event_free(connectEvent) }
    }

    /// Applies the faults' connect decisions, then connects to the upstream. The client is
    /// not read until that succeeds, so its bytes wait in the kernel meanwhile.
    func start() {
        started = true
        effects.values.forEach { $0.accepted() }
        guard !closed else { return }
        for (fault, effect) in effects {
            guard case .reject(let reset) = effect.beforeConnect() else { continue }
            log.debug("dropped at accept by \(fault) (\(reset ? "RST" : "FIN"))")
            fired(fault, reset ? "reset" : "closed")
            return close(resetClient: reset, resetUpstream: false)
        }
        if proxy.serverTLS != nil { return beginClientHandshake() }
        proceedToUpstream()
    }

    /// The client is accepted (and its TLS handshake done): refuse, hold or make the
    /// upstream connect as the faults decide.
    func proceedToUpstream() {
        guard !closed else { return }
        let decisions = effects.map { (fault: $0.key, decision: $0.value.beforeConnect()) }
        for case (let fault, .respond(let answer)) in decisions {
            return respondAndClose(answer, for: fault)
        }
        if let refusing = decisions.first(where: { $0.decision == .refuse }) {
            fired(refusing.fault, "refused")
            log.debug("\(refusing.fault): closing the client as if the upstream refused (the upstream is not contacted)")
            proxy.noteUpstreamFailure()
            return close(resetClient: false, resetUpstream: false)
        }
        let delays = decisions.compactMap { if case .delay(let wait) = $0.decision { ($0.fault, wait) } else { nil } }
        guard let (fault, delay) = delays.max(by: { $0.1 < $1.1 }) else { return connectUpstream() }
        fired(fault, "delayed")
        connectTimer = Timer(loop: proxy.loop) { [unowned self] in connectUpstream() }
        connectTimer?.schedule(after: delay)
    }

    /// The client's bytes were read: a request starts unless one is outstanding.
    func clientSent() {
        guard !exchangeOutstanding, session == nil, proxy.bus.isObserved else { return }
        exchangeOutstanding = true
        proxy.bus.emit(.exchangeStarted, proxy: proxy.name, link: id)
    }

    /// The client's EOF arrived: a request still outstanding is one it gave up on (a timeout
    /// closing the connection), even if a held reply is written to its socket later.
    func clientEnded() {
        guard exchangeOutstanding else { return }
        exchangeOutstanding = false
        proxy.bus.emit(.exchangeAbandoned, proxy: proxy.name, link: id)
    }

    /// Upstream bytes were written to the client: the outstanding request is answered.
    func replyDelivered() {
        guard exchangeOutstanding else { return }
        exchangeOutstanding = false
        proxy.bus.emit(.exchangeAnswered, proxy: proxy.name, link: id)
    }

    /// Reports that the fault called `fault` acted on this link.
    func fired(_ fault: String, _ action: String) {
        let kind = proxy.faults.first { $0.name == fault }?.kind.name ?? ""
        proxy.bus.emit(.faultFired(name: fault, kind: kind, action: action), proxy: proxy.name, link: id)
    }

    private func connectUpstream() {
        guard !closed else { return }
        if connectTimer != nil && Socket.peerClosed(client) {
            log.debug("the client left while the connect was held; not connecting")
            return close(resetClient: false, resetUpstream: false)
        }
        let address = proxy.upstream
        upstream = Socket.tcp(family: address.family)
        if upstream < 0 && (errno == EMFILE || errno == ENFILE) && proxy.yieldSpareDescriptor() {
            upstream = Socket.tcp(family: address.family)
        }
        guard upstream >= 0 else { return upstreamFailed(errno) }
        switch Socket.connect(upstream, to: address) {
        case 0:
            connected()
        case EINPROGRESS:
            let me = Unmanaged.passUnretained(self).toOpaque()
            connectEvent = event_new(proxy.loop.base, upstream, Int16(EV_WRITE), upstreamConnectReady, me)
            var timeout = proxy.options.connectTimeout.timeval
            event_add(connectEvent, &timeout)
        case let error:
            upstreamFailed(error)
        }
    }

    fileprivate func connectReady(timedOut: Bool) {
        if timedOut {
            log.warning("upstream \(proxy.upstream) did not answer the connect within \(DurationText.format(proxy.options.connectTimeout)); closing the client")
            proxy.noteUpstreamFailure()
            proxy.bus.emit(.upstreamFailed(reason: "connect timed out"), proxy: proxy.name, link: id)
            return close(resetClient: false, resetUpstream: false)
        }
        let error = Socket.pendingError(upstream)
        error == 0 ? connected() : upstreamFailed(error)
    }

    private func upstreamFailed(_ error: Int32) {
        if upstream >= 0 { capture?.upstreamRefused(upstream, to: proxy.upstream) }
        log.warning("upstream \(proxy.upstream) unreachable: \(Socket.describe(error)); closing the client")
        proxy.bus.emit(.upstreamFailed(reason: Socket.describe(error)), proxy: proxy.name, link: id)
        proxy.noteUpstreamFailure()
        close(resetClient: false, resetUpstream: false)
    }

    private func connected() {
        Socket.setNoDelay(upstream)
        capture?.upstreamConnected(upstream, to: proxy.upstream)
        if proxy.upstreamTLSContext != nil { return beginUpstreamHandshake() }
        startPipes()
    }

    /// Both legs are ready (connected, handshakes done): bytes start to flow.
    func startPipes() {
        let loop = proxy.loop
        let path = proxy.dataPath
        let limits = proxy.options.limits
        toUpstream = Pipe(.upstream, link: self, from: client, to: upstream, tls: (clientTLS, upstreamTLS),
                          loop: loop, path: path, limits: limits)
        toClient = Pipe(.downstream, link: self, from: upstream, to: client, tls: (upstreamTLS, clientTLS),
                        loop: loop, path: path, limits: limits)
        if let toUpstream, let toClient {
            switch proxy.options.protocol {
            case .redis: session = RedisSession(link: self, toUpstream: toUpstream, toClient: toClient)
            case .http: session = HTTPSession(link: self, toUpstream: toUpstream, toClient: toClient)
            case .tcp: break
            }
        }
        if proxy.logsLinks { log.debug("connected to upstream \(proxy.upstream)") }
        proxy.bus.emit(.upstreamConnected, proxy: proxy.name, link: id)
        effects.values.forEach { $0.attach() }
        refreshPath()
        toUpstream?.start()
        toClient?.start()
    }

    // MARK: faults

    /// Starts applying a fault's effect (at once if connected, else once connected).
    func add(_ effect: any LinkEffect, for fault: String) {
        effects[fault] = effect
        if started && !closed { effect.accepted() }
        if isConnected && !closed {
            effect.attach()
            refreshPath()
        }
    }

    /// Stops applying the fault called `fault`, if it applied.
    func removeEffect(for fault: String) {
        guard let effect = effects.removeValue(forKey: fault), !closed else { return }
        if isConnected {
            effect.detach()
            refreshPath()
        } else if connectTimer?.isPending == true && !effects.values.contains(where: { $0.beforeConnect() != .proceed }) {
            connectTimer = nil  // the connect was held by the removed fault only
            connectUpstream()
        }
    }

    var isConnected: Bool { toUpstream != nil }

    /// The pipe carrying bytes `direction`; nil until the upstream is connected.
    func pipe(_ direction: Pipe.Direction) -> Pipe? {
        direction == .upstream ? toUpstream : toClient
    }

    /// The pipes whose bytes go the way `direction` names.
    func pipes(covering direction: FaultDirection) -> [Pipe] {
        [toUpstream, toClient].compactMap { $0 }.filter { direction.covers($0.direction) }
    }

    var loop: EventLoop { proxy.loop }

    /// Seeded randomness for one fault's decisions on this link (jitter, slice sizes).
    func random(for fault: String) -> SplitMix64 {
        SplitMix64(seed: FaultSelection.mix(proxy.seed, fault, id))
    }

    /// Bytes arrived: `tcp.cutoff idle` measures silence from here, and the proxy counts them.
    func moved(_ count: Int, buffered: Bool) {
        lastActivity = .now
        proxy.noteBytes(count, buffered: buffered)
    }

    /// Buffered while any byte stage is installed (or the proxy forces it), else splice;
    /// bytes in flight keep their order either way.
    func refreshPath() {
        let holding = toUpstream?.chain.isEmpty == false || toClient?.chain.isEmpty == false
        // TLS bytes are decrypted in the process: nothing to splice.
        let encrypted = clientTLS != nil || upstreamTLS != nil
        // A protocol frames every byte.
        let path: DataPath = holding || encrypted || session != nil || proxy.dataPath == .buffered ? .buffered : .splice
        toUpstream?.path = path
        toClient?.path = path
    }

    /// Ends the link now for the fault called `fault`: FIN both ways, RST both ways, or a
    /// silent drop (nothing passes again; the link closes once the client gives up).
    func cut(_ ending: LinkEnding, by fault: String) {
        guard !closed, !dropped else { return }
        switch ending {
        case .fin, .rst:
            let reset = ending == .rst
            log.debug("\(fault): closing with \(reset ? "RST" : "FIN")")
            fired(fault, reset ? "reset" : "cut")
            close(resetClient: reset, resetUpstream: reset)
        case .drop:
            log.debug("\(fault): dropping silently; closing once the client leaves")
            fired(fault, "dropped")
            dropped = true
            toUpstream?.drop(watchingSource: true)
            toClient?.drop(watchingSource: false)
            // Not connected yet (a held connect outlived the lifetime): there is no pipe to
            // keep silent and watch, so the client gets a FIN, as with how=fin.
            if toUpstream == nil { close(resetClient: false, resetUpstream: false) }
        }
    }

    /// Cuts the link now, whatever is still in flight.
    func abandon() { close(resetClient: false, resetUpstream: false) }

    /// Bytes moved so far: client→upstream, upstream→client.
    var bytes: (up: UInt64, down: UInt64) { (toUpstream?.bytes ?? 0, toClient?.bytes ?? 0) }

    // MARK: called by the pipes

    /// Whether the link closes as soon as `pipe` has finished its sink.
    func closesWhenFinished(_ pipe: Pipe) -> Bool {
        closeWhenFinished || (pipe === toUpstream ? toClient : toUpstream)?.sinkFinished == true
    }

    /// A pipe sent its FIN; when both have, the link is done.
    func pipeFinished(_ pipe: Pipe) {
        if closeWhenFinished || (toUpstream?.sinkFinished == true && toClient?.sinkFinished == true) {
            close(resetClient: false, resetUpstream: false)
        }
    }

    /// A paused pipe's peer closed (a client giving up on a blackhole): end the link with
    /// FINs, as the real connection would end, so the give-up is seen when it happens.
    func peerLeftWhilePaused(_ pipe: Pipe) {
        log.debug("\(pipe.direction == .upstream ? "client" : "upstream") closed while nothing was read; closing")
        capture?.sourceEnded(pipe.direction)
        close(resetClient: false, resetUpstream: false)
    }

    /// Reading the source failed (usually ECONNRESET): the other peer gets an RST too.
    func sourceFailed(_ pipe: Pipe, errno error: Int32) {
        let peer = pipe.direction == .upstream ? "client" : "upstream"
        log.debug("\(peer) \(Socket.describe(error)); resetting the other side")
        if error == ECONNRESET { capture?.sourceReset(pipe.direction) }
        close(resetClient: pipe.direction == .downstream, resetUpstream: pipe.direction == .upstream)
    }

    /// Writing the sink failed (EPIPE, ECONNRESET): the source's peer gets an RST.
    func sinkFailed(_ pipe: Pipe, errno error: Int32) {
        let peer = pipe.direction == .upstream ? "upstream" : "client"
        log.debug("writing to \(peer) failed: \(Socket.describe(error)); resetting the other side")
        close(resetClient: pipe.direction == .upstream, resetUpstream: pipe.direction == .downstream)
    }

    /// Closes both sockets, each with an RST or a FIN, and hands the link back to its proxy.
    func close(resetClient: Bool, resetUpstream: Bool) {
        guard !closed else { return }
        closed = true
        if let connectEvent { event_del(connectEvent) }
        connectTimer = nil
        handshake = nil
        toUpstream?.dispose()
        toClient?.dispose()
        session?.dispose()
        capture?.closed(resetClient: resetClient, resetUpstream: resetUpstream)
        // Bytes the client sent that were never read (a blackhole, a held connect) are a
        // request it is abandoning: it counts, unanswered.
        if finish(client, reset: resetClient, atEOF: toUpstream?.sourceAtEOF == true) { clientSent() }
        if upstream >= 0 { finish(upstream, reset: resetUpstream, atEOF: toClient?.sourceAtEOF == true) }
        let (up, down) = bytes
        let how = resetClient || resetUpstream ? ", with RST" : ""
        if proxy.logsLinks { log.debug("closed (\(up) bytes up, \(down) bytes down)\(how)") }
        proxy.bus.emit(.connectionClosed(bytesUp: up, bytesDown: down, reset: resetClient || resetUpstream),
                       proxy: proxy.name, link: id)
        proxy.linkClosed(self)
    }

    /// Closes `fd` with an RST or a FIN; returns whether unread bytes waited in it. After its
    /// EOF was read nothing can wait, and the check costs no syscall.
    @discardableResult
    private func finish(_ fd: Int32, reset: Bool, atEOF: Bool) -> Bool {
        let unread: Bool
        if atEOF {
            unread = false
            if reset { Socket.setResetOnClose(fd) }
        } else if reset {
            unread = Socket.hasUnreadInput(fd)
            Socket.setResetOnClose(fd)
        } else {
            // Linux answers close() with an RST while unread bytes wait; a FIN is meant here.
            unread = Socket.discardInput(fd, scratch: proxy.loop.scratch) > 0
        }
        Glibc.close(fd)
        return unread
    }
}

/// How a fault ends a link.
enum LinkEnding {
    /// FIN to both sides.
    case fin
    /// RST to both sides.
    case rst
    /// Nothing more passes and neither side is told (an expired NAT entry).
    case drop
}

private func upstreamConnectReady(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Link>.fromOpaque(arg).takeUnretainedValue().connectReady(timedOut: what & Int16(EV_TIMEOUT) != 0)
}
