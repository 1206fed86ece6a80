import CEvent

/// The Redis protocol on one link: frames the client's commands and the upstream's replies,
/// lets the proxy's `redis.*` faults decide per command, and keeps every answer in its
/// command's place. Answers faultline makes up, held replies and a connection closing at a
/// command all take their turn in `pending`, so a pipelining client reads its replies in
/// the order it sent its commands.
///
/// Each pipe's intake holds what was read and not handed on:
/// commands: `[to forward][the command being scanned, undecided][not scanned]`;
/// replies: `[scanned, to deliver][not scanned]`.
/// Bytes leave in batches (one evbuffer move and one write per read, not per message).
final class RedisSession {
    /// The link owns the session and closes it first; see `Pipe.link` for `unowned(unsafe)`.
    private unowned(unsafe) let link: Link
    private var commands = RESPCommandFramer()
    private var replies = RESPReplyFramer()
    private var pending = PendingReplies()
    private var forwardable = 0
    private var commandScanned = 0
    /// What happens to the bytes of the command being scanned.
    private enum Fate { case undecided, forward, drop }
    private var fate = Fate.undecided
    /// The command at the intake's front met `redis.hang`: nothing is read past it until the
    /// fault goes.
    private var hungCommand = false
    private var commandComplete = false
    /// A close is queued (redis.close, a protocol error): the client's bytes are discarded.
    private var halted = false
    /// Too much waits for the client (answers, a deep pipeline): commands wait in the intake.
    private var waitingForClient = false
    private var replyScanned = 0
    /// A `.stream` entry is queued: later commands are forwarded as they are, uncounted.
    private var streamQueued = false
    /// Its reply arrived: the upstream's bytes pass as they come.
    private var streaming = false
    /// RESP version the connection speaks (HELLO 3 switches it); `requested` counts HELLOs
    /// still unanswered, so SUBSCRIBE right after HELLO 3 is read as RESP3.
    private var version = 2
    private var requestedVersion = 2
    private var commandIndex: UInt64 = 0
    private var upstreamEnded = false
    /// A pass over each direction is under way; a call meanwhile (a flush draining the client's
    /// buffer, a fault removed) asks for one more pass instead of nesting, so no wake-up is lost.
    private var processingCommands = false
    private var commandsAgain = false
    private var processingReplies = false
    private var repliesAgain = false
    private var releaseTimer: Timer?
    private let toUpstream: OpaquePointer
    private let toClient: OpaquePointer
    private lazy var clientHost = Socket.peerHost(link.client)
    /// Most commands waiting for answers before the client's further commands wait unread.
    private static let maxPending = 65_536

    private let live: LiveToken

    init(link: Link) {
        self.link = link
        toUpstream = evbuffer_new()
        toClient = evbuffer_new()
        live = LiveToken(.session, on: link.loop)
    }

    /// The link closed: no timer may call back.
    func dispose() { releaseTimer = nil }

    deinit {
        evbuffer_free(toUpstream)
        evbuffer_free(toClient)
    }

    /// Bytes `pipe` read and the session has not handed on.
    func held(_ pipe: Pipe) -> Int { pipe.intakeBuffer.map { evbuffer_get_length($0) } ?? 0 }

    /// New bytes arrived in `pipe`'s intake.
    func take(from pipe: Pipe) {
        pipe.direction == .upstream ? processCommands() : processReplies()
    }

    /// `pipe`'s source reached its end: what is left of an unfinished message goes on as it is.
    func sourceEnded(_ pipe: Pipe) {
        if pipe.direction == .downstream {
            upstreamEnded = true
            return processReplies()
        }
        if hungCommand {
            // Redis closes a connection whose client closed; a hung command changes nothing.
            return link.close(resetClient: false, resetUpstream: false)
        }
        if !halted && fate != .drop {
            forwardable += commandScanned
            commandScanned = 0
        }
        processCommands()
    }

    /// The client-bound buffer drained: commands held back for it may go on.
    func clientDrained() {
        guard waitingForClient else { return }
        waitingForClient = false
        processCommands()
    }

    /// A fault was removed: a command it hung is decided again; replies it delays go at once.
    func faultRemoved(_ name: String) {
        pending.releaseAll(delayedBy: name)
        if hungCommand {
            hungCommand = false
            resumeHungCommand()
        }
        processReplies()
    }

    // MARK: commands

    private func processCommands() {
        if processingCommands {
            commandsAgain = true
            return
        }
        processingCommands = true
        defer { processingCommands = false }
        repeat {
            commandsAgain = false
            commandPass()
        } while commandsAgain
    }

    private func commandPass() {
        guard let pipe = link.pipe(.upstream), let intake = pipe.intakeBuffer else { return }
        if halted {
            evbuffer_drain(intake, evbuffer_get_length(intake))
            return
        }
        while !hungCommand && !halted && !waitingForClient {
            if pending.count >= Self.maxPending || pendingForClient() >= link.proxy.options.limits.highWater {
                waitingForClient = true
                break
            }
            let offset = forwardable + commandScanned
            guard offset < evbuffer_get_length(intake) else { break }
            let result = commands.scan(EvbufferBytes.segment(intake, from: offset))
            switch result {
            case .needMore(let consumed):
                commandScanned += consumed
                settleScanned(intake)
            case .head(let consumed):
                commandScanned += consumed
                commandComplete = false
                if fate == .undecided { decide() }
                settleScanned(intake)
            case .complete(let consumed):
                commandScanned += consumed
                commandComplete = true
                if fate == .undecided { decide() }
                settleScanned(intake)
                if !hungCommand { fate = .undecided }
            case .error(let error):
                clientGarbage(error, intake: intake)
            }
        }
        if hungCommand || halted { settleScanned(intake) }
        if halted {
            moveForwardable(intake)
            evbuffer_drain(intake, evbuffer_get_length(intake))
        }
        sendBatches(upstream: pipe)
        pipe.resumeReading()
    }

    /// Bytes of the current command go on or away once its fate is known.
    private func settleScanned(_ intake: OpaquePointer) {
        switch fate {
        case .undecided:
            return
        case .forward:
            forwardable += commandScanned
        case .drop:
            moveForwardable(intake)
            evbuffer_drain(intake, commandScanned)
        }
        commandScanned = 0
    }

    private func moveForwardable(_ intake: OpaquePointer) {
        guard forwardable > 0 else { return }
        evbuffer_remove_buffer(intake, toUpstream, forwardable)
        forwardable = 0
    }

    private func sendBatches(upstream pipe: Pipe) {
        if let intake = pipe.intakeBuffer { moveForwardable(intake) }
        if evbuffer_get_length(toUpstream) > 0 { pipe.emit(toUpstream) }
        pumpAnswers()
        sendToClient()
    }

    /// The faults decide what happens to the command just framed.
    private func decide() {
        commandIndex &+= 1
        let command = commands.command
        let role = RedisCommandRole.of(command)
        if streamQueued {
            fate = .forward
            return
        }
        let plan = RedisDecision(session: self, command: command, role: role)
        let counted = !(role == .subscribe && requestedVersion == 3)
        if counted && link.proxy.bus.isObserved {
            link.proxy.bus.emit(.requestStarted(detail: RedisCommandKeys.detail(of: command, role: role)),
                                proxy: link.proxy.name, link: link.id)
        }
        var entry = PendingReply(kind: .upstream, arrived: .now, counted: counted)
        entry.handshake = role.isHandshake
        if let (delay, fault) = plan.delay {
            entry.releaseAt = entry.arrived + delay
            entry.delayedBy = fault
        }
        switch plan.terminal {
        case .hang:
            hungCommand = true
            hungEntry = entry
            return
        case .answer(let text):
            entry.kind = .answer(text)
            fate = .drop
        case .close(let reset, let fault):
            entry.kind = .close(reset: reset, fault: fault)
            entry.counted = false
            fate = .drop
            halted = true
        case nil:
            fate = .forward
            switch role {
            case .subscribe where requestedVersion == 3, .plain where RedisCommandRole.unsubscribes(command):
                // An answer per channel named: RESP3 pushes, or RESP2 arrays (outside a stream);
                // answers faultline makes for later commands wait behind them, as in Redis.
                entry.answers = max(1, command.argumentCount - 1)
                entry.byPushes = requestedVersion == 3
            case .subscribe, .stream:
                entry.kind = .stream
                streamQueued = true
            case .hello(let asked, _):
                entry.hello = asked
                if let asked { requestedVersion = asked }
            default:
                break
            }
        }
        pending.append(entry)
    }

    /// The entry of the command `redis.hang` holds, for when it is decided again.
    private var hungEntry: PendingReply?

    /// The hang's fault went: the held command goes on to the upstream.
    private func resumeHungCommand() {
        fate = .forward
        if var entry = hungEntry {
            entry.releaseAt = nil
            pending.append(entry)
        }
        hungEntry = nil
        if let intake = link.pipe(.upstream)?.intakeBuffer { settleScanned(intake) }
        if commandComplete { fate = .undecided }
        processCommands()
    }

    /// The client sent what Redis would refuse: it gets Redis's error, after the answers it
    /// is owed, and the connection closes, as Redis does.
    private func clientGarbage(_ error: RESPError, intake: OpaquePointer) {
        link.log.warning("client sent bytes that are not RESP (\(error.message)); answering as Redis does and closing")
        link.proxy.bus.emit(.protocolError(fromClient: true, message: error.message), proxy: link.proxy.name, link: link.id)
        moveForwardable(intake)
        evbuffer_drain(intake, evbuffer_get_length(intake))
        commandScanned = 0
        halted = true
        pending.append(PendingReply(kind: .protocolError(error.message), arrived: .now, counted: false))
        pending.append(PendingReply(kind: .close(reset: false, fault: ""), arrived: .now, counted: false))
    }

    // MARK: replies

    private func processReplies() {
        if processingReplies {
            repliesAgain = true
            return
        }
        processingReplies = true
        defer { processingReplies = false }
        repeat {
            repliesAgain = false
            replyPass()
        } while repliesAgain
    }

    private func replyPass() {
        guard let pipe = link.pipe(.downstream) else { return }
        guard let intake = pipe.intakeBuffer else {
            // Nothing came from the upstream yet: only faultline's own answers can be due.
            pumpAnswers()
            return sendToClient()
        }
        while pumpAnswers() {
            let length = evbuffer_get_length(intake)
            if streaming {
                replyScanned = length
                break
            }
            guard replyScanned < length else { break }
            if replies.atBoundary, let front = pending.first, let release = front.releaseAt, release > .now {
                holdUntil(release)
                break
            }
            switch replies.scan(EvbufferBytes.segment(intake, from: replyScanned)) {
            case .needMore(let consumed):
                replyScanned += consumed
            case .complete(let consumed):
                replyScanned += consumed
                replyCompleted()
            case .error(let error):
                return upstreamGarbage(error)
            }
        }
        if upstreamEnded, pending.first?.releaseAt.map({ $0 <= .now }) ?? true {
            replyScanned = evbuffer_get_length(intake)
        }
        deliverScanned(intake)
        sendToClient()
        pipe.resumeReading()
        if waitingForClient && pending.count < Self.maxPending / 2 { clientDrained() }
    }

    private func deliverScanned(_ intake: OpaquePointer) {
        guard replyScanned > 0 else { return }
        evbuffer_remove_buffer(intake, toClient, replyScanned)
        replyScanned = 0
    }

    private func replyCompleted() {
        guard let entry = pending.complete(push: replies.kind == .push) else { return }
        let failed = replies.kind == .error
        if let asked = entry.hello {
            if failed { requestedVersion = version } else { version = asked }
        }
        guard entry.counted, link.proxy.bus.isObserved else { return }
        link.proxy.bus.emit(.requestAnswered(error: failed ? replies.errorPrefix : nil, byFaultline: false,
                                             latency: .now - entry.arrived, handshake: entry.handshake),
                            proxy: link.proxy.name, link: link.id)
    }

    /// Delivers what waits at the front of `pending` and is faultline's to say; false when
    /// the front is held or the link closes.
    @discardableResult
    private func pumpAnswers() -> Bool {
        while replies.atBoundary, let front = pending.first {
            if let release = front.releaseAt, release > .now {
                if case .upstream = front.kind { return true }
                holdUntil(release)
                return false
            }
            switch front.kind {
            case .upstream:
                return true
            case .stream:
                pending.removeFirst()
                streaming = true
                if front.counted && link.proxy.bus.isObserved {
                    link.proxy.bus.emit(.requestAnswered(error: nil, byFaultline: false, latency: .now - front.arrived,
                                                         handshake: false),
                                        proxy: link.proxy.name, link: link.id)
                }
                return true
            case .answer(let text), .protocolError(let text):
                if let intake = link.pipe(.downstream)?.intakeBuffer { deliverScanned(intake) }
                pending.removeFirst()
                if case .protocolError = front.kind { RESPEncoder.protocolError(text, into: toClient) } else { RESPEncoder.error(text, into: toClient) }
                if front.counted && link.proxy.bus.isObserved {
                    let prefix = String(text.prefix { $0 != " " })
                    link.proxy.bus.emit(.requestAnswered(error: prefix, byFaultline: true, latency: .now - front.arrived,
                                                         handshake: front.handshake),
                                        proxy: link.proxy.name, link: link.id)
                }
            case .close(let reset, let fault):
                if let intake = link.pipe(.downstream)?.intakeBuffer { deliverScanned(intake) }
                pending.removeFirst()
                closeAtCommand(reset: reset, fault: fault)
                return false
            }
        }
        return true
    }

    private func holdUntil(_ release: ContinuousClock.Instant) {
        if releaseTimer == nil { releaseTimer = Timer(loop: link.loop) { [unowned self] in processReplies() } }
        releaseTimer?.schedule(after: max(.zero, release - .now))
    }

    /// `redis.close` (or a protocol error) reached its turn: earlier answers go out, then the
    /// connection closes; what the upstream sends after is never delivered.
    private func closeAtCommand(reset: Bool, fault: String, cleanly: Bool = true) {
        sendToClient()
        if !fault.isEmpty { link.fired(fault, reset ? "reset" : "closed") }
        if reset { return link.close(resetClient: true, resetUpstream: false) }
        if let pipe = link.pipe(.downstream) {
            if let intake = pipe.intakeBuffer { evbuffer_drain(intake, evbuffer_get_length(intake)) }
            link.closeWhenFinished = true
            pipe.endsCleanly = cleanly  // as Redis over TLS: close_notify, not a bare FIN (a truncation)
            pipe.stopReading()
        }
    }

    /// The upstream sent bytes that are not RESP: nothing more it says can be trusted. What it
    /// said before them still reaches the client (it was lost when the link closed at once, a
    /// reply and the garbage often coming in one read), then the connection closes.
    private func upstreamGarbage(_ error: RESPError) {
        link.log.warning("upstream sent bytes that are not RESP (\(error.message)); closing the connection")
        link.proxy.bus.emit(.protocolError(fromClient: false, message: error.message), proxy: link.proxy.name, link: link.id)
        if let intake = link.pipe(.downstream)?.intakeBuffer { deliverScanned(intake) }
        halted = true
        closeAtCommand(reset: false, fault: "", cleanly: false)  // the server broke: no clean end
    }

    private func sendToClient() {
        guard evbuffer_get_length(toClient) > 0, let pipe = link.pipe(.downstream) else { return }
        pipe.emit(toClient)
    }

    private func pendingForClient() -> Int { link.pipe(.downstream)?.pendingBytes ?? 0 }

    // MARK: for RedisDecision

    var proxy: Proxy { link.proxy }
    var linkID: UInt64 { link.id }
    var ordinal: UInt64 { commandIndex }
    var host: String { clientHost }
    func fired(_ fault: String, _ action: String) { link.fired(fault, action) }
}

extension PendingReplies {
    /// Replies `fault` delays are due now.
    mutating func releaseAll(delayedBy fault: String) {
        forEach { if $0.delayedBy == fault { $0.releaseAt = nil } }
    }
}
