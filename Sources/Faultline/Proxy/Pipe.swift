import CEvent
import CShims
import Glibc

/// One direction of a link: bytes read from `source` are written to `sink`.
///
/// Bytes wait in one of two places: the kernel pipe of the splice path, or the evbuffer of
/// the buffered path. The sink always gets the kernel pipe's bytes before the evbuffer's,
/// and the splice path reads only while the evbuffer is empty, so switching paths on a live
/// link never reorders, drops or repeats a byte.
final class Pipe {
    /// Which way the bytes go.
    enum Direction: String { case upstream, downstream }

    let direction: Direction
    /// The link owns this pipe and disposes of it before it goes; `unowned(unsafe)` spares
    /// the reference-count traffic of a checked reference on every chunk.
    unowned(unsafe) let link: Link
    private let source: Int32
    private let sink: Int32
    /// TLS on the source's socket (bytes read are decrypted) or on the sink's (encrypted on
    /// the way out); such a pipe always takes the buffered path.
    let sourceTLS: TLSSession?
    private let sinkTLS: TLSSession?
    private let limits: PipeLimits
    var readEvent: OpaquePointer?
    var writeEvent: OpaquePointer?
    var readArmed = false
    var writeArmed = false
    private var channel: SpliceChannel?
    private var buffer: OpaquePointer?
    /// The path new bytes take; see the type's comment for why switching is safe.
    var path: DataPath
    private(set) var sourceEnded = false
    /// The source's EOF was read: nothing unread can wait in it, so closing needs no drain.
    private(set) var sourceAtEOF = false
    /// Set while reads fill the scratch buffer: bulk traffic goes through splice.
    private var bulk = false
    private let scratch: UnsafeMutableRawBufferPointer
    private(set) var stopping = false
    /// Set once the link closed the sockets: nothing may touch them any more.
    private(set) var disposed = false
    /// Byte-touching faults; bytes on the buffered path pass through them.
    private(set) lazy var chain = StageChain { [unowned self] data in
        if buffer == nil { buffer = evbuffer_new() }
        evbuffer_add_buffer(buffer, data)
        flush()
    }
    /// What the buffered path reads into while the chain has stages or the link speaks a
    /// protocol; the protocol's session keeps here what it has not handed on.
    private var intake: OpaquePointer?
    /// `tcp.timeout`: read nothing while set.
    /// While paused nothing is read, so a peer's FIN would go unseen; `closeWatch` (EV_CLOSED,
    /// EPOLLRDHUP) notices a peer that gives up, and the link then ends as it would for real.
    var paused = false {
        didSet {
            guard paused != oldValue, !disposed else { return }
            if paused {
                disarmRead()
                event_add(closeWatch, nil)
            } else if !dropped {
                event_del(closeWatch)
                armRead()
            }
        }
    }
    private var closeWatch: OpaquePointer?
    /// `tcp.cutoff how=drop`: nothing is read or written again, whatever faults come and go.
    private(set) var dropped = false
    /// `tcp.limit_data`: bytes still allowed through; at 0 the link closes.
    var remaining: Int?
    /// `tcp.slow_close`: how long the FIN waits once everything is written.
    var finishDelay: Duration?
    /// The end is the server's orderly close though its stream did not end (Redis closing after
    /// a protocol error or at `redis.close`): a TLS sink gets close_notify, as Redis sends it.
    var endsCleanly = false
    private var finishTimer: Timer?
    private let loop: EventLoop
    private let live: LiveToken
    /// Whether the sink has been sent its FIN.
    private(set) var sinkFinished = false
    /// Bytes read from the source so far.
    private(set) var bytes: UInt64 = 0

    init(_ direction: Direction, link: Link, from source: Int32, to sink: Int32,
         tls: (source: TLSSession?, sink: TLSSession?) = (nil, nil),
         loop: EventLoop, path: DataPath, limits: PipeLimits) {
        self.direction = direction
        self.link = link
        self.source = source
        self.sink = sink
        sourceTLS = tls.source
        sinkTLS = tls.sink
        self.path = path
        self.limits = limits
        self.scratch = loop.scratch
        self.loop = loop
        live = LiveToken(.pipe, on: loop)
        let base = loop.base
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(base, source, Int16(EV_READ | EV_PERSIST), pipeReadable, me)
        writeEvent = event_new(base, sink, Int16(EV_WRITE | EV_PERSIST), pipeWritable, me)
        closeWatch = event_new(base, source, Int16(EV_CLOSED | EV_PERSIST), pipeSourceClosed, me)
    }

    deinit {
        event_free(readEvent)
        event_free(writeEvent)
        event_free(closeWatch)
        if let buffer { evbuffer_free(buffer) }
        if let intake { evbuffer_free(intake) }
    }

    /// Starts reading the source.
    func start() { armRead() }

    /// Stops every callback and releases the kernel pipe; the link closes the sockets.
    func dispose() {
        disposed = true
        event_del(closeWatch)
        disarmRead()
        disarmWrite()
        channel = nil
        chain.cancelAll()
        finishTimer = nil
    }

    /// Forgets the flow: nothing is read or written from now on and no peer is told. With
    /// `watchingSource`, the source leaving (the client giving up) is still noticed.
    func drop(watchingSource: Bool) {
        guard !disposed, !dropped else { return }
        dropped = true
        disarmRead()
        disarmWrite()
        if watchingSource { event_add(closeWatch, nil) } else { event_del(closeWatch) }
    }

    /// Reads nothing more; once what was read is written, sends the sink a FIN.
    func stopReading() {
        stopping = true
        disarmRead()
        if pendingBytes == 0 { finishSink() }
    }

    /// Bytes read from the source and not yet written to the sink.
    var pendingBytes: Int {
        (channel?.count ?? 0) + bufferedBytes + chain.heldBytes + intakeBytes
    }

    private var intakeBytes: Int { intake.map { evbuffer_get_length($0) } ?? 0 }

    /// The evbuffer a protocol session reads this pipe's bytes from (nil before the first read).
    var intakeBuffer: OpaquePointer? { intake }

    /// Sends `data` (all of it) on: through the byte faults, then to the sink.
    func emit(_ data: OpaquePointer) { chain.push(data) }

    /// Reads again if reading stopped only because the session held too much.
    func resumeReading() {
        if !readArmed && bufferedBytes < limits.highWater && chain.heldBytes + intakeBytes < limits.holdLimit { armRead() }
    }

    private var bufferedBytes: Int { buffer.map { evbuffer_get_length($0) } ?? 0 }

    /// How much one read may take: `tcp.limit_data` caps it.
    private func allowance(_ size: Int) -> Int { min(size, remaining ?? size) }

    /// Counts `count` bytes just read; false when `tcp.limit_data` is used up.
    private func account(_ count: Int) -> Bool {
        if direction == .upstream { link.clientSent() }
        bytes &+= UInt64(count)
        link.moved(count, buffered: path == .buffered)
        guard let left = remaining else { return true }
        remaining = left - count
        return left > count
    }

    // MARK: reading

    func readable() {
        // Captured bytes must pass through the process: while the capture runs, the splice
        // path keeps to its copy (read and write through the scratch buffer).
        let capturing = link.capture?.capture.active == true
        if remaining == 0 {
            limitReached()
        } else if path == .splice, pendingBytes == 0, !bulk || capturing {
            copyThrough()
        } else if path == .splice, bufferedBytes == 0, !capturing {
            spliceIn()
        } else if path == .splice {
            disarmRead()  // older buffered bytes go first; flush re-arms the read
            armWrite()
        } else if let session = link.session, sourceTLS == nil, sinkTLS == nil, chain.isEmpty, pendingBytes == 0,
                  session.passesThrough(self) {
            copyThrough(framing: session)
        } else {
            readIntoBuffer()
        }
    }

    private func spliceIn() {
        if channel == nil { channel = SpliceChannel(capacity: limits.spliceCapacity) }
        guard let channel else {
            link.log.warning("no descriptor left for a kernel pipe; using the buffered path")
            path = .buffered
            return readIntoBuffer()
        }
        let room = allowance(channel.room)
        guard room > 0 else {
            disarmRead()
            return armWrite()
        }
        let moved = fl_splice(source, channel.writeEnd, room)
        if moved > 0 {
            if moved < scratch.count / 4 { bulk = false }
            channel.count += moved
            let withinLimit = account(moved)
            flush()
            if !withinLimit { limitReached() }
        } else if moved == 0 {
            endOfSource(atEOF: true)
        } else if errno != EAGAIN && errno != EINTR {
            link.sourceFailed(self, errno: errno)
        }
    }

    /// Small messages: read into the loop's scratch buffer and write straight on. Two plain
    /// syscalls beat two splices for a few hundred bytes; a full scratch buffer means bulk
    /// traffic, which then goes through splice until it turns small again. With `session`
    /// (a protocol link with nothing waiting, held or to decide) the bytes are framed in place
    /// for their facts first: what the session lets through goes on at once.
    private func copyThrough(framing session: (any LinkSession)? = nil) {
        let got = Glibc.read(source, scratch.baseAddress, allowance(scratch.count))
        guard got > 0 else {
            if got == 0 { return endOfSource(atEOF: true) }
            if errno != EAGAIN && errno != EINTR { link.sourceFailed(self, errno: errno) }
            return
        }
        let withinLimit = account(got)
        link.capture?.received(direction, UnsafeRawBufferPointer(start: scratch.baseAddress, count: got))
        var through = got
        var failed = false
        if let session {
            (through, failed) = session.frameThrough(self, UnsafeRawBufferPointer(start: scratch.baseAddress, count: got))
        } else if got == scratch.count {
            bulk = true
        }
        var written = 0
        while written < through {
            let sent = write(sink, scratch.baseAddress! + written, through - written)
            if sent > 0 {
                link.capture?.sent(direction, UnsafeRawBufferPointer(start: scratch.baseAddress! + written, count: sent))
                written += sent
            } else if errno == EAGAIN {
                break
            } else if errno != EINTR {
                return link.sinkFailed(self, errno: errno)
            }
        }
        if written > 0 { delivered() }
        if written < through {
            if buffer == nil { buffer = evbuffer_new() }
            evbuffer_add(buffer, scratch.baseAddress! + written, through - written)
            blocked()
        }
        if failed, let session {
            session.failThrough(self)
        } else if let session, !disposed {
            if through < got {
                // The session stopped at a message a fault must decide: the rest takes the
                // buffered path, in the intake, as if read there.
                if intake == nil { intake = evbuffer_new() }
                evbuffer_add(intake, scratch.baseAddress! + through, got - through)
                session.take(from: self)
            }
            if !disposed { session.wroteThrough(self) }
        }
        if !withinLimit && !disposed { limitReached() }
    }

    private func readIntoBuffer() {
        if buffer == nil { buffer = evbuffer_new() }
        if intake == nil { intake = evbuffer_new() }
        guard let buffer, let intake else { return link.sourceFailed(self, errno: ENOMEM) }
        guard bufferedBytes < limits.highWater, chain.heldBytes + intakeBytes < limits.holdLimit else {
            disarmRead()
            return bufferedBytes > 0 ? armWrite() : ()
        }
        let session = link.session
        let target = chain.isEmpty && session == nil ? buffer : intake
        let got = sourceTLS.map { BufferIO.decrypt($0, into: target, atMost: allowance(limits.readSize)) }
            ?? BufferIO.readv(source, into: target, atMost: allowance(limits.readSize))
        if got > 0 {
            let withinLimit = account(got)
            if let capture = link.capture { BufferIO.tail(of: target, count: got) { capture.received(direction, $0) } }
            if let session {
                session.take(from: self)
            } else {
                chain.isEmpty ? flush() : chain.push(intake)
            }
            if !withinLimit { limitReached() }
            if readArmed, sourceTLS?.readsWithoutReadiness == true { event_active(readEvent, Int32(EV_READ), 0) }
        } else if got == 0 {
            endOfSource(atEOF: true)
        } else if -got != Int(EAGAIN) && -got != Int(EINTR) {
            link.sourceFailed(self, errno: Int32(-got))
        }
    }

    /// `tcp.limit_data` let its last byte through: write what was read, then close the link.
    private func limitReached() {
        guard !disposed else { return }
        link.closeWhenFinished = true
        endOfSource()
    }

    private func endOfSource(atEOF: Bool = false) {
        sourceEnded = true
        sourceAtEOF = atEOF
        if atEOF { link.capture?.sourceEnded(direction) }
        if atEOF && direction == .upstream { link.clientEnded() }
        disarmRead()
        link.session?.sourceEnded(self)
        guard !disposed else { return }
        if pendingBytes == 0 { finishSink() }
    }

    // MARK: writing

    func writable() { flush() }

    /// Writes what waits, kernel pipe first; arms the write event if the sink is full.
    private func flush() {
        guard !disposed, !dropped else { return }
        if let channel, channel.count > 0 {
            let moved = fl_splice(channel.readEnd, sink, channel.count)
            if moved > 0 {
                channel.count -= moved
                delivered()
            }
            if moved < 0 && errno != EAGAIN && errno != EINTR {
                return link.sinkFailed(self, errno: errno)
            }
            if channel.count > 0 { return blocked() }
        }
        if let buffer, evbuffer_get_length(buffer) > 0 {
            let written = BufferIO.write(buffer, to: sink, tls: sinkTLS, capture: link.capture, direction: direction)
            if written > 0 { delivered() }
            if written < 0 && errno != EAGAIN && errno != EINTR {
                return link.sinkFailed(self, errno: errno)
            }
            if evbuffer_get_length(buffer) > 0 { return blocked() }
        }
        disarmWrite()
        if direction == .downstream { link.session?.clientDrained() }
        if (sourceEnded || stopping) && chain.heldBytes == 0 && intakeBytes == 0 {
            finishSink()
        } else if !readArmed && chain.heldBytes + intakeBytes < limits.holdLimit {
            armRead()
        }
    }

    /// Bytes reached the sink: for the client, that answers its outstanding request.
    private func delivered() {
        if direction == .downstream { link.replyDelivered() }
    }

    /// The sink took less than we had: wait for it, and stop reading once the waiting room is
    /// full so a peer that does not read cannot grow our memory.
    private func blocked() {
        armWrite()
        if channel?.room == 0 || bufferedBytes >= limits.highWater {
            disarmRead()
        }
    }

    private func finishSink() {
        guard !sinkFinished, !disposed else { return }
        if let delay = finishDelay, finishTimer == nil {
            finishTimer = Timer(loop: loop) { [unowned self] in finishSink() }
            finishTimer?.schedule(after: delay)
            return
        }
        sinkFinished = true
        link.capture?.sinkFinished(direction)
        disarmWrite()
        // close_notify tells a TLS peer the stream is complete: only when the source really
        // ended. Cut short (a shutdown's drain, tcp.limit_data), the peer gets the bare FIN and
        // sees the truncation, as it would from a server that died mid-stream.
        if sourceAtEOF || endsCleanly { sinkTLS?.closeNotify() }
        // When the link closes right after, close() sends this FIN: one syscall fewer.
        if !link.closesWhenFinished(self) { Socket.shutdownWrite(sink) }
        link.pipeFinished(self)
    }
}
