/// The fast path of `HTTPSession`: while no HTTP fault is active and nothing waits, is held
/// or is shaped, a pipe reads into the loop's scratch buffer, the session frames the bytes in
/// place for their facts (pending entries, request and response events), and the pipe writes
/// them straight on — the syscalls of a TCP link, with request facts kept.
extension HTTPSession {
    func passesThrough(_ pipe: Pipe) -> Bool {
        if pipe.direction == .upstream {
            // Faults may be active: a request they act on hands the rest of the read to the
            // buffered path (see requestsThrough); a request already handed there stays there.
            return !halted && requestHeldUntil == 0 && !waitingForClient && (requests.atBoundary || fate == .forward)
                && pending.count < Self.maxPending / 2 && clientPipe.pendingBytes < Self.clientBacklog
        }
        return pending.specials == 0 && !halted && wsClose == nil
    }

    func frameThrough(_ pipe: Pipe, _ bytes: UnsafeRawBufferPointer) -> (through: Int, failed: Bool) {
        let (through, error) = pipe.direction == .upstream ? requestsThrough(bytes) : responsesThrough(bytes)
        throughError = error
        return (through, error != nil)
    }

    func wroteThrough(_ pipe: Pipe) {
        guard pipe.direction == .downstream else { return }
        if waitingForClient && pending.count < Self.maxPending / 2 { clientDrained() }
        if pending.isEmpty { link.answersSettled() }
    }

    func failThrough(_ pipe: Pipe) {
        guard let error = throughError else { return }
        throughError = nil
        if pipe.direction == .upstream {
            clientGarbage(error, intake: nil)
            pumpAnswers()
            sendToClient()
        } else {
            upstreamGarbage(error, nil)
        }
    }

    /// Frames requests in place. While faults are active, a request's head waits to be decided:
    /// one that ends this read, or that a fault does more to than forward, is left with the
    /// rest of the read for the buffered path, its scanned head counted in `cursor.scanned`.
    private func requestsThrough(_ bytes: UnsafeRawBufferPointer) -> (Int, HTTPError?) {
        var offset = 0
        let deciding = proxy.hasCommandFaults
        // After an Upgrade or CONNECT, bytes are not framed until its response says what they are.
        while offset < bytes.count && !tunnel && !awaitingUpgrade {
            let start = offset
            let fresh = requests.atBoundary
            switch requests.scan(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore(let consumed):
                offset += consumed
                // While faults are active a head still arriving is not sent before its decision.
                if deciding && requests.inHead { return handOff(from: fresh ? start : offset, scanned: fresh ? consumed : 0) }
            case .head(let consumed):
                offset += consumed
                if !requestRecorded { decide() }
                if fate != .forward || requestHeldUntil != 0 || halted { return handOff(from: start, scanned: consumed) }
            case .message(let consumed), .complete(let consumed):
                offset += consumed
                if !requestRecorded { decide() }
                if fate != .forward || requestHeldUntil != 0 || halted { return handOff(from: start, scanned: consumed) }
                requestEnded()
                if halted { return (offset, nil) }
            case .error(let error):
                return (offset, error)
            }
        }
        return (bytes.count, nil)
    }

    /// The bytes from `start` go to the buffered path; the first `scanned` of them are the
    /// current request's, already framed.
    private func handOff(from start: Int, scanned: Int) -> (Int, HTTPError?) {
        cursor.scanned = scanned
        cursor.forwardable = 0
        return (start, nil)
    }

    private func responsesThrough(_ bytes: UnsafeRawBufferPointer) -> (Int, HTTPError?) {
        var offset = 0
        if tunnel, let webSocket {
            // Frame boundaries are kept for an http.ws_close that may come.
            while offset < bytes.count { offset += webSocket.skim(UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
            return (bytes.count, nil)
        }
        while offset < bytes.count && !tunnel {
            if responses.atBoundary {
                let front = pending.first
                responses.answersHEAD = front?.isHEAD ?? false
                responses.answersCONNECT = front?.isCONNECT ?? false
            }
            switch responses.scan(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore(let consumed):
                offset += consumed
            case .head(let consumed):
                offset += consumed
                responseHead(nil)
                if tunnel, let webSocket {
                    while offset < bytes.count { offset += webSocket.skim(UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
                }
            case .message(let consumed):
                offset += consumed
                responseHead(nil)
                responseComplete()
            case .complete(let consumed):
                offset += consumed
                responseComplete()
            case .error(let error):
                return (offset, error)
            }
            if responsesOver { return (offset, nil) }
        }
        return (bytes.count, nil)
    }
}
