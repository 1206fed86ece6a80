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
    private unowned let link: Link
    private let source: Int32
    private let sink: Int32
    private let limits: PipeLimits
    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private var readArmed = false
    private var writeArmed = false
    private var channel: SpliceChannel?
    private var buffer: OpaquePointer?
    /// The path new bytes take; see the type's comment for why switching is safe.
    var path: DataPath
    private var sourceEnded = false
    /// Set while reads fill the scratch buffer: bulk traffic goes through splice.
    private var bulk = false
    private let scratch: UnsafeMutableRawBufferPointer
    private var stopping = false
    /// Whether the sink has been sent its FIN.
    private(set) var sinkFinished = false
    /// Bytes read from the source so far.
    private(set) var bytes: UInt64 = 0

    init(_ direction: Direction, link: Link, from source: Int32, to sink: Int32,
         loop: EventLoop, path: DataPath, limits: PipeLimits) {
        self.direction = direction
        self.link = link
        self.source = source
        self.sink = sink
        self.path = path
        self.limits = limits
        self.scratch = loop.scratch
        let base = loop.base
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(base, source, Int16(EV_READ | EV_PERSIST), pipeReadable, me)
        writeEvent = event_new(base, sink, Int16(EV_WRITE | EV_PERSIST), pipeWritable, me)
    }

    deinit {
        event_free(readEvent)
        event_free(writeEvent)
        if let buffer { evbuffer_free(buffer) }
    }

    /// Starts reading the source.
    func start() { armRead() }

    /// Stops every callback and releases the kernel pipe; the link closes the sockets.
    func dispose() {
        disarmRead()
        disarmWrite()
        channel = nil
    }

    /// Reads nothing more; once what was read is written, sends the sink a FIN.
    func stopReading() {
        stopping = true
        disarmRead()
        if pendingBytes == 0 { finishSink() }
    }

    /// Bytes read from the source and not yet written to the sink.
    var pendingBytes: Int {
        (channel?.count ?? 0) + (buffer.map { evbuffer_get_length($0) } ?? 0)
    }

    // MARK: reading

    fileprivate func readable() {
        if path == .splice, pendingBytes == 0, !bulk {
            copyThrough()
        } else if path == .splice, buffer.map({ evbuffer_get_length($0) }) ?? 0 == 0 {
            spliceIn()
        } else if path == .splice {
            disarmRead()  // older buffered bytes go first; flush re-arms the read
            armWrite()
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
        let room = channel.room
        guard room > 0 else {
            disarmRead()
            return armWrite()
        }
        let moved = fl_splice(source, channel.writeEnd, room)
        if moved > 0 {
            if moved < scratch.count / 4 { bulk = false }
            channel.count += moved
            bytes &+= UInt64(moved)
            flush()
        } else if moved == 0 {
            endOfSource()
        } else if errno != EAGAIN && errno != EINTR {
            link.sourceFailed(self, errno: errno)
        }
    }

    /// Small messages: read into the loop's scratch buffer and write straight on. Two plain
    /// syscalls beat two splices for a few hundred bytes; a full scratch buffer means bulk
    /// traffic, which then goes through splice until it turns small again.
    private func copyThrough() {
        let got = read(source, scratch.baseAddress, scratch.count)
        guard got > 0 else {
            if got == 0 { return endOfSource() }
            if errno != EAGAIN && errno != EINTR { link.sourceFailed(self, errno: errno) }
            return
        }
        bytes &+= UInt64(got)
        if got == scratch.count { bulk = true }
        var written = 0
        while written < got {
            let sent = write(sink, scratch.baseAddress! + written, got - written)
            if sent > 0 {
                written += sent
            } else if errno == EAGAIN {
                break
            } else if errno != EINTR {
                return link.sinkFailed(self, errno: errno)
            }
        }
        guard written < got else { return }
        if buffer == nil { buffer = evbuffer_new() }
        evbuffer_add(buffer, scratch.baseAddress! + written, got - written)
        blocked()
    }

    private func readIntoBuffer() {
        if buffer == nil { buffer = evbuffer_new() }
        guard let buffer else { return link.sourceFailed(self, errno: ENOMEM) }
        guard evbuffer_get_length(buffer) < limits.highWater else {
            disarmRead()
            return armWrite()
        }
        // evbuffer_iovec is struct iovec on Unix: reserve, readv straight into it, commit.
        var space = (iovec(), iovec())
        let got = withUnsafeMutablePointer(to: &space) {
            $0.withMemoryRebound(to: iovec.self, capacity: 2) { vecs -> Int in
                let count = evbuffer_reserve_space(buffer, limits.readSize, vecs, 2)
                guard count > 0 else { return -Int(ENOMEM) }
                let read = readv(source, vecs, count)
                let error = errno
                var left = max(read, 0)
                for index in 0..<Int(count) {
                    vecs[index].iov_len = min(vecs[index].iov_len, left)
                    left -= vecs[index].iov_len
                }
                evbuffer_commit_space(buffer, vecs, read > 0 ? count : 0)
                return read >= 0 ? read : -Int(error)
            }
        }
        if got > 0 {
            bytes &+= UInt64(got)
            flush()
        } else if got == 0 {
            endOfSource()
        } else if -got != Int(EAGAIN) && -got != Int(EINTR) {
            link.sourceFailed(self, errno: Int32(-got))
        }
    }

    private func endOfSource() {
        sourceEnded = true
        disarmRead()
        if pendingBytes == 0 { finishSink() }
    }

    // MARK: writing

    fileprivate func writable() { flush() }

    /// Writes what waits, kernel pipe first; arms the write event if the sink is full.
    private func flush() {
        if let channel, channel.count > 0 {
            let moved = fl_splice(channel.readEnd, sink, channel.count)
            if moved > 0 { channel.count -= moved }
            if moved < 0 && errno != EAGAIN && errno != EINTR {
                return link.sinkFailed(self, errno: errno)
            }
            if channel.count > 0 { return blocked() }
        }
        if let buffer, evbuffer_get_length(buffer) > 0 {
            if evbuffer_write(buffer, sink) < 0 && errno != EAGAIN && errno != EINTR {
                return link.sinkFailed(self, errno: errno)
            }
            if evbuffer_get_length(buffer) > 0 { return blocked() }
        }
        disarmWrite()
        if sourceEnded || stopping {
            finishSink()
        } else if !readArmed {
            armRead()
        }
    }

    /// The sink took less than we had: wait for it, and stop reading once the waiting room is
    /// full so a peer that does not read cannot grow our memory.
    private func blocked() {
        armWrite()
        let bufferFull = (buffer.map { evbuffer_get_length($0) } ?? 0) >= limits.highWater
        if channel?.room == 0 || bufferFull {
            disarmRead()
        }
    }

    private func finishSink() {
        guard !sinkFinished else { return }
        sinkFinished = true
        disarmWrite()
        Socket.shutdownWrite(sink)
        link.pipeFinished(self)
    }

    // MARK: events

    private func armRead() {
        guard !readArmed, !sourceEnded, !stopping else { return }
        readArmed = true
        event_add(readEvent, nil)
    }

    private func disarmRead() {
        guard readArmed else { return }
        readArmed = false
        event_del(readEvent)
    }

    private func armWrite() {
        guard !writeArmed else { return }
        writeArmed = true
        event_add(writeEvent, nil)
    }

    private func disarmWrite() {
        guard writeArmed else { return }
        writeArmed = false
        event_del(writeEvent)
    }
}

private func pipeReadable(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Pipe>.fromOpaque(arg).takeUnretainedValue().readable()
}

private func pipeWritable(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Pipe>.fromOpaque(arg).takeUnretainedValue().writable()
}
