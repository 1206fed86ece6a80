import CEvent

/// The reply side of `RedisSession`: the upstream's replies are framed and delivered in their
/// commands' order, with faultline's own answers, held replies and closes taking their turns.
extension RedisSession {
    func processReplies() { replyPasses.run { replyPass() } }

    private func replyPass() {
        let pipe = clientPipe
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
            let release = pending.frontReleaseAt
            if replies.atBoundary, release != 0, release > Monotonic.now() {
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
        if upstreamEnded, pending.frontReleaseAt == 0 || pending.frontReleaseAt <= Monotonic.now() {
            replyScanned = evbuffer_get_length(intake)
        }
        deliverScanned(intake)
        sendToClient()
        pipe.resumeReading()
        if waitingForClient && pending.count < Self.maxPending / 2 { clientDrained() }
        if pending.isEmpty { link.answersSettled() }
    }

    private func deliverScanned(_ intake: OpaquePointer) {
        guard replyScanned > 0 else { return }
        evbuffer_remove_buffer(intake, toClient, replyScanned)
        replyScanned = 0
    }

    func replyCompleted() {
        guard let entry = pending.complete(push: replies.kind == .push) else { return }
        let failed = replies.kind == .error
        if entry.hello != 0 {
            if failed { requestedVersion = version } else { version = Int(entry.hello) }
        }
        guard entry.counted, observed else { return }
        link.proxy.bus.emit(.requestAnswered(error: failed ? replies.errorPrefix : nil, byFaultline: false,
                                             latency: Monotonic.duration(from: entry.arrived, to: Monotonic.now()),
                                             handshake: entry.handshake),
                            proxy: link.proxy.name, link: link.id)
    }

    /// Delivers what waits at the front of `pending` and is faultline's to say; false when
    /// the front is held or the link closes.
    @discardableResult
    func pumpAnswers() -> Bool {
        while replies.atBoundary, let front = pending.first {
            if front.releaseAt != 0, front.releaseAt > Monotonic.now() {
                if front.kind == .upstream { return true }
                holdUntil(front.releaseAt)
                return false
            }
            switch front.kind {
            case .upstream:
                return true
            case .stream:
                pending.removeFirst()
                streaming = true
                if front.counted && observed {
                    link.proxy.bus.emit(.requestAnswered(error: nil, byFaultline: false,
                                                         latency: Monotonic.duration(from: front.arrived, to: Monotonic.now()),
                                                         handshake: false),
                                        proxy: link.proxy.name, link: link.id)
                }
                return true
            case .answer, .protocolError:
                if let intake = clientPipe.intakeBuffer { deliverScanned(intake) }
                let text = pending.note(front.note)
                pending.removeFirst()
                if front.kind == .protocolError { RESPEncoder.protocolError(text, into: toClient) } else { RESPEncoder.error(text, into: toClient) }
                if front.counted && observed {
                    let prefix = String(text.prefix { $0 != " " })
                    link.proxy.bus.emit(.requestAnswered(error: prefix, byFaultline: true,
                                                         latency: Monotonic.duration(from: front.arrived, to: Monotonic.now()),
                                                         handshake: front.handshake),
                                        proxy: link.proxy.name, link: link.id)
                }
            case .close, .closeReset:
                if let intake = clientPipe.intakeBuffer { deliverScanned(intake) }
                let fault = pending.note(front.note)
                pending.removeFirst()
                closeAtCommand(reset: front.kind == .closeReset, fault: fault)
                return false
            }
        }
        return true
    }

    private func holdUntil(_ release: UInt64) {
        if releaseTimer == nil { releaseTimer = Timer(loop: link.loop) { [unowned self] in processReplies() } }
        releaseTimer?.schedule(after: Monotonic.duration(from: Monotonic.now(), to: release))
    }

    /// `redis.close` (or a protocol error) reached its turn: earlier answers go out, then the
    /// connection closes; what the upstream sends after is never delivered.
    private func closeAtCommand(reset: Bool, fault: String, cleanly: Bool = true) {
        sendToClient()
        if !fault.isEmpty { link.fired(fault, reset ? "reset" : "closed") }
        if reset { return link.close(resetClient: true, resetUpstream: false) }
        do {
            let pipe = clientPipe
            if let intake = pipe.intakeBuffer { evbuffer_drain(intake, evbuffer_get_length(intake)) }
            link.closeWhenFinished = true
            pipe.endsCleanly = cleanly  // as Redis over TLS: close_notify, not a bare FIN (a truncation)
            pipe.stopReading()
        }
    }

    /// The upstream sent bytes that are not RESP: nothing more it says can be trusted. What it
    /// said before them still reaches the client (it was lost when the link closed at once, a
    /// reply and the garbage often coming in one read), then the connection closes.
    func upstreamGarbage(_ error: RESPError) {
        link.log.warning("upstream sent bytes that are not RESP (\(error.message)); closing the connection")
        link.proxy.bus.emit(.protocolError(fromClient: false, message: error.message), proxy: link.proxy.name, link: link.id)
        if let intake = clientPipe.intakeBuffer { deliverScanned(intake) }
        halted = true
        closeAtCommand(reset: false, fault: "", cleanly: false)  // the server broke: no clean end
    }

    func sendToClient() {
        guard evbuffer_get_length(toClient) > 0 else { return }
        clientPipe.emit(toClient)
    }
}
