/// The fast path of `RedisSession`: while nothing waits, is held or could be decided
/// otherwise, a pipe reads into the loop's scratch buffer, the session frames those bytes in
/// place for their facts (pending entries, request events), and the pipe writes them straight
/// on — two plain syscalls per read, as on a TCP link, instead of the evbuffer path's
/// reserve/commit, moves and writev.
extension RedisSession {
    /// Whether what `pipe` reads next can go straight through.
    func passesThrough(_ pipe: Pipe) -> Bool {
        if pipe.direction == .upstream {
            // No fault can answer, hold, hang or close a command; nothing half-decided waits;
            // the client is keeping up (a read adds at most a scratch buffer of commands).
            return !link.proxy.hasCommandFaults && !halted && !hungCommand && !waitingForClient && fate != .drop
                && pending.count < Self.maxPending / 2 && clientPipe.pendingBytes < Self.clientBacklog
        }
        // Every entry is a reply to pass on as it comes.
        return pending.specials == 0 && !halted
    }

    /// Frames `bytes` just read by `pipe`; returns how many leading bytes go on, and the
    /// protocol error that stops the rest (then `failThrough` once they went on).
    func frameThrough(_ pipe: Pipe, _ bytes: UnsafeRawBufferPointer) -> (through: Int, failed: Bool) {
        let (through, error) = pipe.direction == .upstream ? commandsThrough(bytes) : repliesThrough(bytes)
        throughError = error
        return (through, error != nil)
    }

    /// `pipe` wrote what went straight through: replies that left may let waiting commands
    /// go on (the reply side's slow path does the same at the end of its pass).
    func wroteThrough(_ pipe: Pipe) {
        guard pipe.direction == .downstream else { return }
        if waitingForClient && pending.count < Self.maxPending / 2 { clientDrained() }
        if pending.isEmpty { link.answersSettled() }
    }

    /// The bytes before a protocol error went on: now the error is handled as on the slow
    /// path (the client gets Redis's answer and the connection closes; upstream garbage ends
    /// the link).
    func failThrough(_ pipe: Pipe) {
        guard let error = throughError else { return }
        throughError = nil
        if pipe.direction == .upstream {
            clientGarbage(error, intake: nil)
            pumpAnswers()
            sendToClient()
        } else {
            upstreamGarbage(error)
        }
    }

    private func commandsThrough(_ bytes: UnsafeRawBufferPointer) -> (Int, RESPError?) {
        var offset = 0
        while offset < bytes.count {
            // No fault is active: every command goes on from its first byte.
            if commands.atBoundary { fate = .forward }
            switch commands.scan(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore(let consumed):
                offset += consumed
            case .head(let consumed):
                offset += consumed
                commandComplete = false
                if !commandRecorded { decide() }
            case .complete(let consumed):
                offset += consumed
                commandComplete = true
                if !commandRecorded { decide() }
                fate = .undecided
                commandRecorded = false
            case .error(let error):
                return (offset, error)
            }
        }
        return (bytes.count, nil)
    }

    private func repliesThrough(_ bytes: UnsafeRawBufferPointer) -> (Int, RESPError?) {
        var offset = 0
        while offset < bytes.count && !streaming {
            if replies.atBoundary, pending.frontKind == .stream {
                pumpAnswers()  // the stream begins: everything from here passes as it comes
                continue
            }
            switch replies.scan(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore(let consumed):
                offset += consumed
            case .complete(let consumed):
                offset += consumed
                replyCompleted()
            case .error(let error):
                return (offset, error)
            }
        }
        return (bytes.count, nil)
    }
}
