import CEvent

/// The response side of `HTTPSession`: the upstream's responses are framed and delivered in
/// their requests' order, with faultline's own answers, held responses, closes and the
/// response faults (drip, truncate, abort mid-body, status, ws_close) taking their turns.
extension HTTPSession {
    func processResponses() { responsePasses.run { responsePass() } }

    private func responsePass() {
        if responsesOver {
            if let intake = clientPipe.intakeBuffer { evbuffer_drain(intake, evbuffer_get_length(intake)) }
            return
        }
        guard let intake = clientPipe.intakeBuffer else {
            // Nothing was read on the buffered path yet: only faultline's own words can be due.
            if tunnel {
                _ = tunnelPass(nil, 0)
            } else {
                pumpAnswers()
            }
            return sendToClient()
        }
        while !responsesOver && pumpAnswers() {
            let length = evbuffer_get_length(intake)
            if tunnel {
                guard tunnelPass(intake, length) else { return }
                break
            }
            if responses.inBody, let plan = pending.frontPlan, let cut = plan.cut, bodyDelivered >= cut.after {
                return cutResponse(intake, cut)
            }
            guard responseScanned < length else { break }
            if responses.atBoundary {
                let release = pending.frontReleaseAt
                if release != 0, release > Monotonic.now() {
                    holdUntil(release)
                    break
                }
                let front = pending.first
                responses.answersHEAD = front?.isHEAD ?? false
                responses.answersCONNECT = front?.isCONNECT ?? false
                responseStart = responseScanned
            }
            var segment = EvbufferBytes.segment(intake, from: responseScanned)
            let inBody = responses.inBody
            if inBody, let plan = pending.frontPlan, let allowed = allowance(plan) {
                guard allowed > 0 else { break }
                segment = UnsafeRawBufferPointer(rebasing: segment.prefix(allowed))
            }
            switch responses.scan(segment) {
            case .needMore(let consumed):
                responseScanned += consumed
                if inBody { bodyDelivered += consumed }
            case .head(let consumed):
                responseScanned += consumed
                responseHead(intake)
            case .message(let consumed):
                responseScanned += consumed
                responseHead(intake)
                responseComplete()
            case .complete(let consumed):
                responseScanned += consumed
                responseComplete()
            case .error(let error):
                return upstreamGarbage(error, intake)
            }
        }
        // The upstream's end is taken once every byte before it was framed: a drip still pacing
        // the body (the upstream closed right after sending it) goes on at its rate.
        if upstreamEnded && !tunnel && responseScanned >= evbuffer_get_length(intake),
           pending.frontReleaseAt == 0 || pending.frontReleaseAt <= Monotonic.now() {
            upstreamFinished(intake)
        }
        deliverScanned(intake)
        sendToClient()
        clientPipe.resumeReading()
        if waitingForClient && pending.count < Self.maxPending / 2 { clientDrained() }
        if pending.isEmpty { link.answersSettled() }
    }

    /// Body bytes the front response may deliver now under drip and cut, or nil when neither
    /// applies. At 0 a drip's timer is set for the next bytes.
    private func allowance(_ plan: HTTPResponsePlan) -> Int? {
        guard plan.drip != nil || plan.cut != nil else { return nil }
        var allowed = Int.max
        if let cut = plan.cut { allowed = cut.after - bodyDelivered }
        if let (rate, _) = plan.drip {
            let elapsed = Monotonic.now() &- dripStart
            let due = Int(min(Double(Int.max / 2), Double(rate) * Double(elapsed) / 1e9))
            let dripped = due - bodyDelivered
            if dripped <= 0 {
                // The next batch: about 20 ms of body, at least one byte.
                let step = max(1, rate / 50)
                let at = dripStart &+ UInt64(Double(bodyDelivered + step) / Double(rate) * 1e9)
                holdUntil(at)
                return 0
            }
            allowed = min(allowed, dripped)
        }
        return allowed
    }

    /// A response head was framed: `http.status` replaces its status line, the facts learn
    /// its status and time to first byte, and a 101 turns the link into a tunnel.
    func responseHead(_ intake: OpaquePointer?) {
        let head = responses.head
        bodyDelivered = 0
        guard head.status >= 200 || head.status == 101 else { return }  // 100, 103: interim
        let plan = pending.frontPlan
        var shown = head.status
        if let intake, let (code, fault) = plan?.status, head.status != 101 {
            evbuffer_remove_buffer(intake, toClient, responseStart)
            responseScanned -= responseStart
            responseStart = 0
            evbuffer_drain(intake, head.startLineLength)
            responseScanned -= head.startLineLength
            let line = HTTPAnswer.statusLine(code, minorVersion: head.minorVersion)
            evbuffer_add(toClient, line, line.count)
            shown = code
            fired(fault, "rewritten")
        }
        frontStatus = shown
        let now = Monotonic.now()
        if let (_, fault) = plan?.drip {
            dripStart = now
            fired(fault, "dripped")
        }
        if let front = pending.first, front.counted, observed {
            proxy.bus.emit(.responseStarted(status: shown, byFaultline: false, firstByte: Monotonic.duration(from: front.arrived, to: now)),
                           proxy: proxy.name, link: link.id)
        }
        if responses.isTunnel {
            responseComplete()
            startTunnel(plan?.wsClose)
        }
    }

    /// The front response ended: its request is answered (a failure when a 5xx).
    func responseComplete() {
        guard responses.head.status >= 200 || responses.head.status == 101 else { return }
        bodyDelivered = 0
        guard !pending.isEmpty else { return }
        let entry = pending.removeFirst()
        if awaitingUpgrade && pending.isEmpty && !responses.isTunnel {
            // The upgrade was refused (a 4xx, a 200): the connection is still HTTP.
            awaitingUpgrade = false
            processRequests()
        }
        if entry.counted && observed {
            proxy.bus.emit(.requestAnswered(error: frontStatus >= 500 ? String(frontStatus) : nil, byFaultline: false,
                                            latency: Monotonic.duration(from: entry.arrived, to: Monotonic.now()), handshake: false),
                           proxy: proxy.name, link: link.id)
        }
        if !responses.head.keepsAlive && !responses.isTunnel && !pending.isEmpty {
            // The server closes after this response: requests pipelined behind it get no
            // answer, faultline's included, and the connection ends as the server ends it.
            responsesOver = true
            halted = true
            if let intake = clientPipe.intakeBuffer { deliverScanned(intake) }
            closeConnection(reset: false, fault: "", action: "")
        }
    }

    /// The upstream closed: a body delimited by the close is complete; one cut short is a
    /// failure; what it sent goes to the client either way.
    private func upstreamFinished(_ intake: OpaquePointer) {
        let length = evbuffer_get_length(intake)
        if responses.endOfStream() {
            responseScanned = length
            responseComplete()
        } else if !responses.atBoundary, !pending.isEmpty {
            let entry = pending.removeFirst()
            if entry.counted && observed {
                proxy.bus.emit(.requestAnswered(error: "incomplete response", byFaultline: false,
                                                latency: Monotonic.duration(from: entry.arrived, to: Monotonic.now()), handshake: false),
                               proxy: proxy.name, link: link.id)
            }
        }
        responseScanned = length
        responseStart = length
    }

    /// `http.truncate` or `http.abort after:` reached its byte: what was allowed goes out, then
    /// the connection ends (FIN, or RST for abort how=rst).
    private func cutResponse(_ intake: OpaquePointer, _ cut: (after: Int, reset: Bool, truncate: Bool, fault: String)) {
        deliverScanned(intake)
        if !pending.isEmpty {
            let entry = pending.removeFirst()
            if entry.counted && observed {
                proxy.bus.emit(.requestAnswered(error: "incomplete response", byFaultline: true,
                                                latency: Monotonic.duration(from: entry.arrived, to: Monotonic.now()), handshake: false),
                               proxy: proxy.name, link: link.id)
            }
        }
        halted = true
        closeConnection(reset: cut.reset, fault: cut.fault, action: cut.truncate ? "truncated" : cut.reset ? "reset" : "closed")
    }

    /// After a 101 (or a CONNECT's 2xx) bytes pass raw both ways. A WebSocket's server frames
    /// are followed (their boundaries only), so `http.ws_close` can put a close frame between
    /// two of them, whether it came with the upgrade or is added later.
    private func startTunnel(_ close: (after: Duration, code: Int, reason: String, fault: String)?) {
        tunnel = true
        awaitingUpgrade = false
        if requests.head.isWebSocketUpgrade { webSocket = WebSocketFramer() }
        if let close { armWebSocketClose(after: close.after, code: close.code, reason: close.reason, fault: close.fault) }
        processRequests()
    }

    /// `http.ws_close` on this WebSocket: the close frame goes `after` from now.
    func armWebSocketClose(after: Duration, code: Int, reason: String, fault: String) {
        guard webSocket != nil, wsClose == nil else { return }
        wsClose = (code, reason, fault)
        wsTimer = Timer(loop: link.loop) { [unowned self] in
            wsClosing = true
            processResponses()
        }
        wsTimer?.schedule(after: after)
    }

    /// Tunnel bytes: raw, or WebSocket frames followed to put `http.ws_close`'s frame between
    /// two server frames. False when the connection closes.
    private func tunnelPass(_ intake: OpaquePointer?, _ length: Int) -> Bool {
        guard let webSocket else {
            responseScanned = length
            return true
        }
        while let intake, responseScanned < length && !(wsClosing && webSocket.atBoundary) {
            responseScanned += webSocket.skim(EvbufferBytes.segment(intake, from: responseScanned))
        }
        guard wsClosing, webSocket.atBoundary, let (code, reason, fault) = wsClose else { return true }
        if let intake { deliverScanned(intake) }
        let frame = WebSocketFramer.closeFrame(code: code, reason: reason)
        evbuffer_add(toClient, frame, frame.count)
        wsClose = nil
        halted = true
        closeConnection(reset: false, fault: fault, action: "closed")
        return false
    }

    /// Delivers what waits at the front of `pending` and is faultline's to say; false when
    /// the front is held or the link closes.
    @discardableResult
    func pumpAnswers() -> Bool {
        while responses.atBoundary && !tunnel, let front = pending.first {
            if front.releaseAt != 0, front.releaseAt > Monotonic.now() {
                guard front.plan?.answer != nil || front.plan?.abort != nil else { return true }
                holdUntil(front.releaseAt)
                return false
            }
            guard let plan = front.plan, plan.answer != nil || plan.abort != nil else { return true }
            if let intake = clientPipe.intakeBuffer { deliverScanned(intake) }
            pending.removeFirst()
            if let abort = plan.abort {
                closeConnection(reset: abort.reset, fault: abort.fault, action: abort.reset ? "reset" : "closed")
                return false
            }
            if let answer = plan.answer {
                evbuffer_add(toClient, answer, answer.count)
                answered(front, status: plan.answerStatus)
            }
            if plan.closeAfter {
                closeConnection(reset: false, fault: "", action: "")
                return false
            }
        }
        return true
    }

    private func answered(_ entry: HTTPPending, status: Int) {
        guard entry.counted, observed else { return }
        let latency = Monotonic.duration(from: entry.arrived, to: Monotonic.now())
        proxy.bus.emit(.responseStarted(status: status, byFaultline: true, firstByte: latency), proxy: proxy.name, link: link.id)
        proxy.bus.emit(.requestAnswered(error: status >= 400 ? String(status) : nil, byFaultline: true, latency: latency, handshake: false),
                       proxy: proxy.name, link: link.id)
    }

    private func holdUntil(_ release: UInt64) {
        if responseTimer == nil { responseTimer = Timer(loop: link.loop) { [unowned self] in processResponses() } }
        responseTimer?.schedule(after: Monotonic.duration(from: Monotonic.now(), to: release))
    }

    /// Ends the connection at this point of the response stream: what was delivered goes
    /// out first; a FIN (close_notify over TLS, as a server closing cleanly sends it) or an RST.
    func closeConnection(reset: Bool, fault: String, action: String) {
        sendToClient()
        if !fault.isEmpty { fired(fault, action) }
        if reset { return link.close(resetClient: true, resetUpstream: false) }
        if let intake = clientPipe.intakeBuffer { evbuffer_drain(intake, evbuffer_get_length(intake)) }
        responseScanned = 0
        responseStart = 0
        link.closeWhenFinished = true
        clientPipe.endsCleanly = true
        clientPipe.stopReading()
    }

    /// The upstream sent bytes that are not HTTP: what it said before them reaches the client,
    /// then the connection closes (no clean end: the server broke).
    func upstreamGarbage(_ error: HTTPError, _ intake: OpaquePointer?) {
        link.log.warning("upstream sent bytes that are not HTTP (\(error.message)); closing the connection")
        proxy.bus.emit(.protocolError(fromClient: false, message: error.message), proxy: proxy.name, link: link.id)
        responseStart = responseScanned
        if let intake { deliverScanned(intake) }
        halted = true
        sendToClient()
        if let intake { evbuffer_drain(intake, evbuffer_get_length(intake)) }
        responseScanned = 0
        link.closeWhenFinished = true
        clientPipe.stopReading()
    }

    /// Moves the scanned bytes on, except a response head not read to its end.
    func deliverScanned(_ intake: OpaquePointer) {
        let ready = responses.inHead ? responseStart : responseScanned
        guard ready > 0 else { return }
        evbuffer_remove_buffer(intake, toClient, ready)
        responseScanned -= ready
        responseStart -= min(responseStart, ready)
    }

    func sendToClient() {
        guard evbuffer_get_length(toClient) > 0 else { return }
        clientPipe.emit(toClient)
    }
}
