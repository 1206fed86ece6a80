import CEvent

/// HTTP/1.1 on one link: frames the client's requests and the upstream's responses, lets the
/// proxy's `http.*` faults decide per request, and keeps every response in its request's
/// place: answers faultline writes, held responses and closes take their turn in `pending`,
/// so a pipelining client reads its responses in the order it sent its requests.
///
/// Each pipe's intake holds what was read and not handed on, as in `RedisSession`:
/// requests: `[to forward][the request being scanned, undecided][not scanned]`;
/// responses: `[scanned, to deliver][a response head being read][not scanned]` (a head goes
/// on whole, so `http.status` can replace its status line and its first byte is timed).
/// After a 101 (or a CONNECT's 2xx) the link carries raw bytes both ways; WebSocket frames
/// are framed only when `http.ws_close` has to send a close frame between them.
final class HTTPSession: LinkSession {
    /// The link owns the session and closes it first; see `Pipe.link` for `unowned(unsafe)`.
    unowned(unsafe) let link: Link
    unowned(unsafe) let upstreamPipe: Pipe
    unowned(unsafe) let clientPipe: Pipe
    let requests = HTTPFramer(.request)
    let responses = HTTPFramer(.response)
    var pending = HTTPPendingQueue()
    let toUpstream: OpaquePointer
    let toClient: OpaquePointer
    /// Someone listens to the proxy's events (subscribers come before the first link and stay).
    let observed: Bool
    let live: LiveToken

    // Requests.
    /// The client's intake as read so far (see `IntakeCursor`).
    var cursor: IntakeCursor
    var fate = MessageFate.undecided
    /// The request being scanned has its pending entry (and its request event).
    var requestRecorded = false
    /// `http.delay before: request` holds the request at the intake's front until then.
    var requestHeldUntil: UInt64 = 0
    var requestTimer: Timer?
    /// The fault holding it (its removal lets the request go).
    var requestHeldBy: String?
    /// An Upgrade or CONNECT request went on: nothing more is framed until its response says
    /// whether the connection is still HTTP.
    var awaitingUpgrade = false
    /// A close is queued (an abort, a refusal, an answer that ends the connection): the
    /// client's further bytes are discarded.
    var halted = false
    /// Too much waits for the client: requests wait in the intake.
    var waitingForClient = false
    var requestIndex: UInt64 = 0

    // Responses.
    var responseScanned = 0
    /// Where the response whose head is being read begins in the intake.
    var responseStart = 0
    /// Body bytes of the front response delivered so far (drip, truncate, abort after).
    var bodyDelivered = 0
    /// `http.drip`: when the front response's body began, on the `Monotonic` clock.
    var dripStart: UInt64 = 0
    var responseTimer: Timer?
    /// The status the client is shown for the front response (after `http.status`).
    var frontStatus = 0
    var upstreamEnded = false
    /// The upstream's response said `Connection: close`: nothing is answered after it.
    var responsesOver = false
    /// After a 101 or a CONNECT's 2xx: bytes pass as they are, both ways.
    var tunnel = false
    /// `http.ws_close` armed on the tunnel: server frames are framed to find their boundaries.
    var webSocket: WebSocketFramer?
    var wsClose: (code: Int, reason: String, fault: String)?
    var wsClosing = false
    var wsTimer: Timer?
    /// The protocol error `frameThrough` stopped at, for `failThrough`.
    var throughError: HTTPError?

    let requestPasses = ReentrantPass()
    let responsePasses = ReentrantPass()

    /// Requests waiting for responses before further requests wait unread (a client that
    /// pipelines without reading cannot grow memory without bound).
    static let maxPending = 1 << 16
    /// Bytes waiting for the client past which requests wait unread.
    static let clientBacklog = 16 << 20

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

    deinit {
        evbuffer_free(toUpstream)
        evbuffer_free(toClient)
    }

    func dispose() {
        requestTimer = nil
        responseTimer = nil
        wsTimer = nil
    }

    var awaitsAnswers: Bool { !pending.isEmpty && !tunnel }

    var proxy: Proxy { link.proxy }
    var linkID: UInt64 { link.id }
    func fired(_ fault: String, _ action: String) {
        if proxy.logsLinks { link.log.debug("\(fault): \(action)") }
        link.fired(fault, action)
    }

    /// A fault decided on the request being framed: logged with the request (at debug).
    func decided(_ fault: String, _ action: String) {
        if proxy.logsLinks {
            let head = requests.head
            link.log.debug("\(fault): \(action) \(head.methodText) \(head.text(head.pathRange))")
        }
        link.fired(fault, action)
    }

    func take(from pipe: Pipe) {
        pipe.direction == .upstream ? processRequests() : processResponses()
    }

    func sourceEnded(_ pipe: Pipe) {
        if pipe.direction == .downstream {
            upstreamEnded = true
            return processResponses()
        }
        // The client closed its side: requests with no response yet are given up on now.
        if observed {
            for _ in pending.uncountAll(where: { _ in true }) {
                proxy.bus.emit(.requestAbandoned, proxy: proxy.name, link: link.id)
            }
        }
        if requestHeldUntil != 0 {
            // The client left during `http.delay before: request`: what it sent goes on now.
            requestHeldUntil = 0
            fate = .forward
        }
        if !halted && fate != .drop {
            cursor.forwardable += cursor.scanned
            cursor.scanned = 0
        }
        processRequests()
    }

    func clientDrained() {
        guard waitingForClient else { return }
        waitingForClient = false
        processRequests()
    }

    func releaseHolds() {
        pending.release()
        pending.forEachPlan { $0.drip = nil }
        if requestHeldUntil != 0 { releaseRequest() }
        processResponses()
    }

    /// A fault was added: an `http.ws_close` matching this link's WebSocket upgrade closes it
    /// `after` from now (later upgrades meet it when their 101 comes).
    func faultAdded(_ state: FaultState) {
        guard tunnel, webSocket != nil, wsClose == nil, let rule = state.http,
              case .wsClose(let after, let code, let reason) = rule.action,
              rule.match.matches(requests.head), HTTPDecision.selects(state, self) else { return }
        armWebSocketClose(after: after, code: code, reason: reason, fault: state.fault.name)
    }

    /// A fault went: what it holds goes on (a held request or response, a body it drips) and
    /// what it would still do to a response (cut it, close the WebSocket) is called off.
    func faultRemoved(_ name: String) {
        pending.release(delayedBy: name)
        pending.forEachPlan { plan in
            if plan.drip?.fault == name { plan.drip = nil }
            if plan.cut?.fault == name { plan.cut = nil }
            if plan.status?.fault == name { plan.status = nil }
            if plan.wsClose?.fault == name { plan.wsClose = nil }
        }
        if wsClose?.fault == name && !wsClosing {
            wsClose = nil
            wsTimer = nil
        }
        if requestHeldUntil != 0 && requestHeldBy == name { releaseRequest() }
        processResponses()
    }

    // MARK: requests

    func processRequests() { requestPasses.run { requestPass() } }

    private func requestPass() {
        guard let intake = upstreamPipe.intakeBuffer else { return }
        if requestRecorded && requestHeldUntil == 0 && fate != .undecided {
            // The fast path handed over a request it decided (its head at the intake's front).
            cursor.settle(fate, intake)
            if requests.atBoundary { requestEnded() }
        }
        if halted {
            cursor.moveForwardable(intake)
            evbuffer_drain(intake, evbuffer_get_length(intake))
        }
        while !halted && requestHeldUntil == 0 && !awaitingUpgrade && !waitingForClient {
            let length = evbuffer_get_length(intake)
            if tunnel {
                cursor.forwardable = length
                break
            }
            if pending.count >= Self.maxPending || clientPipe.pendingBytes >= Self.clientBacklog {
                waitingForClient = true
                break
            }
            let offset = cursor.forwardable + cursor.scanned
            guard offset < length else { break }
            let result = requests.scan(EvbufferBytes.segment(intake, from: offset))
            switch result {
            case .needMore(let consumed):
                cursor.scanned += consumed
                cursor.settle(fate, intake)
            case .head(let consumed):
                cursor.scanned += consumed
                if !requestRecorded { decide() }
                cursor.settle(fate, intake)
            case .message(let consumed), .complete(let consumed):
                cursor.scanned += consumed
                if !requestRecorded { decide() }
                cursor.settle(fate, intake)
                if requestHeldUntil == 0 { requestEnded() }
            case .error(let error):
                clientGarbage(error, intake: intake)
            }
        }
        if halted {
            cursor.moveForwardable(intake)
            evbuffer_drain(intake, evbuffer_get_length(intake))
        }
        cursor.moveForwardable(intake)
        if evbuffer_get_length(toUpstream) > 0 { upstreamPipe.emit(toUpstream) }
        pumpAnswers()
        sendToClient()
        upstreamPipe.resumeReading()
    }

    /// The request just scanned ended: the next one is decided afresh. After an Upgrade or
    /// CONNECT that went on, nothing more is framed until its response comes.
    func requestEnded() {
        if fate == .forward && (requests.head.hasUpgrade || requests.head.methodIs("CONNECT")) { awaitingUpgrade = true }
        // `Connection: close` (or HTTP/1.0 without keep-alive): a server reads nothing after it.
        if !requests.head.keepsAlive { halted = true }
        fate = .undecided
        requestRecorded = false
    }



    /// The faults decide what happens to the request whose head was just framed; its pending
    /// entry and request event are made.
    func decide() {
        requestRecorded = true
        requestIndex &+= 1
        let head = requests.head
        let decision = proxy.hasCommandFaults ? HTTPDecision(session: self, head: head) : HTTPDecision()
        if observed {
            var detail = head.methodText
            detail += " "
            let path = head.pathRange
            detail += path.isEmpty ? "/" : head.text(path)
            proxy.bus.emit(.requestStarted(detail: detail), proxy: proxy.name, link: link.id)
        }
        let now = observed || decision.plan != nil || decision.requestDelay != nil ? Monotonic.now() : 0
        var entry = HTTPPending(arrived: now, counted: observed)
        entry.isHEAD = head.methodIs("HEAD")
        entry.isCONNECT = head.methodIs("CONNECT")
        entry.plan = decision.plan
        if let (wait, _) = decision.responseDelay { entry.releaseAt = max(1, now &+ Monotonic.nanoseconds(wait)) }
        if let plan = decision.plan, plan.answer != nil || plan.abort != nil {
            fate = .drop
            if plan.abort != nil || plan.closeAfter { halted = true }
        } else if let (wait, fault) = decision.requestDelay {
            requestHeldBy = fault
            // Its bytes stay undecided, in the intake, until the timer lets them go.
            requestHeldUntil = max(1, now &+ Monotonic.nanoseconds(wait))
            if requestTimer == nil { requestTimer = Timer(loop: link.loop) { [unowned self] in releaseRequest() } }
            requestTimer?.schedule(after: wait)
        } else {
            fate = .forward
        }
        pending.append(entry)
    }

    /// `http.delay before: request` is over: the request goes on, and reading resumes.
    private func releaseRequest() {
        guard requestHeldUntil != 0 else { return }
        requestHeldUntil = 0
        fate = .forward
        if let intake = upstreamPipe.intakeBuffer { cursor.settle(fate, intake) }
        if requests.atBoundary { requestEnded() }
        processRequests()
    }

    /// The client sent what is not HTTP faultline can forward: it gets a 400 (431, 501, 505)
    /// after the responses it is owed, and the connection closes, as nginx and Node do.
    func clientGarbage(_ error: HTTPError, intake: OpaquePointer?) {
        link.log.warning("client sent a request faultline cannot forward (\(error.message)); answering \(error.status) and closing")
        proxy.bus.emit(.protocolError(fromClient: true, message: error.message), proxy: proxy.name, link: link.id)
        if let intake {
            cursor.moveForwardable(intake)
            evbuffer_drain(intake, evbuffer_get_length(intake))
        }
        cursor.scanned = 0
        halted = true
        let plan = HTTPResponsePlan()
        plan.answer = HTTPAnswer.refusal(error)
        plan.answerStatus = error.status
        plan.closeAfter = true
        if requestRecorded && fate == .forward && !requests.atBoundary {
            // Its head went on and its body broke: the upstream holds half a request and will
            // not answer it; the 400 takes its response's place.
            pending.replaceLast(with: plan)
        } else {
            var entry = HTTPPending(arrived: 0, counted: false)
            entry.plan = plan
            pending.append(entry)
        }
    }
}
