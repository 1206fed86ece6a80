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
final class RedisSession: LinkSession {
    // Stored state is internal, not private, for the reply side in RedisSession+Replies.swift;
    // nothing outside the session touches it.
    /// The link owns the session and closes it first; see `Pipe.link` for `unowned(unsafe)`.
    unowned(unsafe) let link: Link
    let commands = RESPCommandFramer()
    let replies = RESPReplyFramer()
    var pending = PendingReplies()
    /// The client's intake as read so far (see `IntakeCursor`).
    var cursor: IntakeCursor
    /// What happens to the bytes of the command being scanned.
    var fate = MessageFate.undecided
    /// The command at the intake's front met `redis.hang`: nothing is read past it until the
    /// fault goes.
    var hungCommand = false
    var commandComplete = false
    /// The command being scanned has its pending entry (and its request event).
    var commandRecorded = false
    /// A close is queued (redis.close, a protocol error): the client's bytes are discarded.
    var halted = false
    /// Too much waits for the client (answers, a deep pipeline): commands wait in the intake.
    var waitingForClient = false
    var replyScanned = 0
    /// A `.stream` entry is queued: later commands are forwarded as they are, uncounted.
    var streamQueued = false
    /// Its reply arrived: the upstream's bytes pass as they come.
    var streaming = false
    /// RESP version the connection speaks (HELLO 3 switches it); `requested` counts HELLOs
    /// still unanswered, so SUBSCRIBE right after HELLO 3 is read as RESP3.
    var version = 2
    var requestedVersion = 2
    var commandIndex: UInt64 = 0
    var upstreamEnded = false
    /// Each direction's passes (see `ReentrantPass`).
    let commandPasses = ReentrantPass()
    let replyPasses = ReentrantPass()
    var releaseTimer: Timer?
    /// The protocol error `frameThrough` stopped at, for `failThrough`.
    var throughError: RESPError?
    let toUpstream: OpaquePointer
    let toClient: OpaquePointer
    lazy var clientHost = Socket.peerHost(link.client)
    /// Most commands waiting for answers (32 bytes each) before the client's further commands
    /// wait unread. Redis itself keeps reading a client that writes its whole pipeline before
    /// reading (its output buffer grows), and such a client deadlocks if the proxy stops
    /// reading it: the bound is set far beyond real pipelines (redis-py sends 400,000 at once).
    static let maxPending = 1 << 20
    /// Bytes waiting for the client past which commands wait unread: only answers faultline
    /// makes can grow it this far (the upstream's replies stop at the pipe's high water), so a
    /// client flooding commands a fault answers, reading nothing, holds at most this much.
    static let clientBacklog = 16 << 20

    let live: LiveToken

    /// The link's pipes, which live as long as it (see `link`).
    unowned(unsafe) let upstreamPipe: Pipe
    unowned(unsafe) let clientPipe: Pipe
    /// Someone listens to the proxy's events (expectations, the live view): subscribers come
    /// before the proxy's first link and stay, so this is read once.
    let observed: Bool

    init(link: Link, toUpstream upstreamPipe: Pipe, toClient clientPipe: Pipe) {
        self.link = link
        self.upstreamPipe = upstreamPipe
        self.clientPipe = clientPipe
        observed = link.proxy.bus.isObserved
        toUpstream = evbuffer_new()
        cursor = IntakeCursor(out: toUpstream)
        toClient = evbuffer_new()
        live = LiveToken(.session, on: link.loop)
    }

    /// Redis faults act on commands still to come: nothing under way changes.
    func faultAdded(_ state: FaultState) {}

    var awaitsAnswers: Bool { !pending.isEmpty && !streaming }

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
            cursor.forwardable += cursor.scanned
            cursor.scanned = 0
        }
        processCommands()
    }

    /// The client-bound buffer drained: commands held back for it may go on.
    func clientDrained() {
        guard waitingForClient else { return }
        waitingForClient = false
        processCommands()
    }

    /// The proxy shuts down: what was read goes out now, held replies included (a hung command
    /// goes on to the upstream, whose answer is delivered if it comes before the drain ends).
    func releaseHolds() {
        pending.releaseAll()
        if hungCommand {
            hungCommand = false
            resumeHungCommand()
        }
        processReplies()
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

    private func processCommands() { commandPasses.run { commandPass() } }

    private func commandPass() {
        let pipe = upstreamPipe
        guard let intake = pipe.intakeBuffer else { return }
        if halted {
            evbuffer_drain(intake, evbuffer_get_length(intake))
            return
        }
        while !hungCommand && !halted && !waitingForClient {
            if pending.count >= Self.maxPending || clientPipe.pendingBytes >= Self.clientBacklog {
                waitingForClient = true
                break
            }
            let offset = cursor.forwardable + cursor.scanned
            guard offset < evbuffer_get_length(intake) else { break }
            if fate == .undecided && commands.atBoundary && !link.proxy.hasCommandFaults {
                // No fault could act on it: its bytes go on as they come, so a server that
                // answers a command's header before its end (Redis refusing an unauthenticated
                // `*2147483647`) is heard as directly. Its facts are still recorded below.
                fate = .forward
            }
            let result = commands.scan(EvbufferBytes.segment(intake, from: offset))
            switch result {
            case .needMore(let consumed):
                cursor.scanned += consumed
                cursor.settle(fate, intake)
            case .head(let consumed):
                cursor.scanned += consumed
                commandComplete = false
                if !commandRecorded { decide() }
                cursor.settle(fate, intake)
            case .complete(let consumed):
                cursor.scanned += consumed
                commandComplete = true
                if !commandRecorded { decide() }
                cursor.settle(fate, intake)
                if !hungCommand {
                    fate = .undecided
                    commandRecorded = false
                }
            case .error(let error):
                clientGarbage(error, intake: intake)
            }
        }
        if hungCommand || halted { cursor.settle(fate, intake) }
        if halted {
            cursor.moveForwardable(intake)
            evbuffer_drain(intake, evbuffer_get_length(intake))
        }
        sendBatches(upstream: pipe)
        pipe.resumeReading()
    }



    private func sendBatches(upstream pipe: Pipe) {
        if let intake = pipe.intakeBuffer { cursor.moveForwardable(intake) }
        if evbuffer_get_length(toUpstream) > 0 { pipe.emit(toUpstream) }
        pumpAnswers()
        sendToClient()
    }

    /// The faults decide what happens to the command just framed (unless it was forwarded from
    /// its first byte, no fault being active then), and its pending entry and request event
    /// are made.
    func decide() {
        commandRecorded = true
        commandIndex &+= 1
        let command = commands.command
        let role = RedisCommandRole.of(command)
        if streamQueued {
            fate = .forward
            return
        }
        let plan = fate == .forward ? RedisDecision() : RedisDecision(session: self, command: command, role: role)
        let counted = !(role == .subscribe && requestedVersion == 3)
        if counted && observed {
            link.proxy.bus.emit(.requestStarted(detail: RedisCommandKeys.detail(of: command, role: role)),
                                proxy: link.proxy.name, link: link.id)
        }
        // The clock is read only for someone: a latency in an event, or a release time.
        var entry = PendingReply(kind: .upstream, arrived: observed || plan.delay != nil ? Monotonic.now() : 0,
                                 counted: counted)
        entry.handshake = role.isHandshake || (role == .plain && RedisCommandRole.setsUpConnection(command))
        if let (delay, fault) = plan.delay {
            entry.releaseAt = max(1, entry.arrived &+ Monotonic.nanoseconds(delay))
            entry.delayedBy = pending.keep(fault)
        }
        switch plan.terminal {
        case .hang:
            hungCommand = true
            hungEntry = entry
            return
        case .answer(let text):
            entry.kind = .answer
            entry.note = pending.keep(text)
            fate = .drop
        case .close(let reset, let fault):
            entry.kind = reset ? .closeReset : .close
            entry.note = pending.keep(fault)
            entry.counted = false
            fate = .drop
            halted = true
        case nil:
            fate = .forward
            switch role {
            case .subscribe where requestedVersion == 3, .plain where RedisCommandRole.unsubscribes(command):
                // An answer per channel named: RESP3 pushes, or RESP2 arrays (outside a stream);
                // answers faultline makes for later commands wait behind them, as in Redis.
                entry.answers = Int32(clamping: max(1, command.argumentCount - 1))
                entry.byPushes = requestedVersion == 3
            case .subscribe, .stream:
                entry.kind = .stream
                streamQueued = true
            case .hello(let asked, _):
                if let asked, (1...3).contains(asked) {
                    entry.hello = Int8(asked)
                    requestedVersion = asked
                }
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
            entry.releaseAt = 0
            entry.delayedBy = -1
            pending.append(entry)
        }
        hungEntry = nil
        if let intake = upstreamPipe.intakeBuffer { cursor.settle(fate, intake) }
        if commandComplete {
            fate = .undecided
            commandRecorded = false
        }
        processCommands()
    }

    /// The client sent what Redis would refuse: it gets Redis's error, after the answers it
    /// is owed, and the connection closes, as Redis does.
    func clientGarbage(_ error: RESPError, intake: OpaquePointer?) {
        link.log.warning("client sent bytes that are not RESP (\(error.message)); answering as Redis does and closing")
        link.proxy.bus.emit(.protocolError(fromClient: true, message: error.message), proxy: link.proxy.name, link: link.id)
        if let intake {
            cursor.moveForwardable(intake)
            evbuffer_drain(intake, evbuffer_get_length(intake))
        }
        cursor.scanned = 0
        halted = true
        var answer = PendingReply(kind: .protocolError, arrived: 0, counted: false)
        answer.note = pending.keep(error.message)
        pending.append(answer)
        pending.append(PendingReply(kind: .close, arrived: 0, counted: false))
    }

    // MARK: for RedisDecision

    var proxy: Proxy { link.proxy }
    var linkID: UInt64 { link.id }
    var ordinal: UInt64 { commandIndex }
    var host: String { clientHost }
    func fired(_ fault: String, _ action: String) { link.fired(fault, action) }
}
