import Glibc

/// Writes a file from its own thread, so that a slow or full disk delays the file and never
/// the loop: the loop hands over whole buffers (`submit`) and goes on at once.
///
/// Buffers are written in the order submitted, each with as many write(2) calls as it takes;
/// a recording's writers submit only whole records (a JSON line, a pcapng block), so a process
/// killed between two writes leaves a file whose every record is whole. The first write error
/// (ENOSPC, EDQUOT, EIO…) stops the writer: what was written stays, later buffers are dropped,
/// and `failure` says why for the loop to report. Written buffers come back through `submit`
/// with their capacity, so steady state allocates nothing.
///
/// It also takes batches of events (`submit(events:)`), which it turns into bytes itself with
/// the formatter it was given: formatting is most of an event's cost, and here it is paid on
/// this thread, not on the loop.
final class BackgroundWriter: @unchecked Sendable {
    /// The file, for messages.
    let path: String
    private let fd: Int32
    // Everything below `lock` is shared between the loop and the writer thread.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let drained = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Item] = []
    private var spare: [[UInt8]] = []
    private var spareEvents: [[Event]] = []
    private var queuedBytes = 0
    private var writing = false
    private var closing = false
    private var error: Int32 = 0
    private var thread = pthread_t()
    private var started = false
    /// Bytes of whole buffers on disk (writer thread only): a failed buffer is cut back to here.
    private var fileSize: off_t = 0
    /// Turns a batch of events into bytes (writer thread only), with `formatted` its output.
    private let formatEvents: (([Event], inout [UInt8]) -> Void)?
    private var formatted: [UInt8] = []

    /// What waits: bytes, or events to format first.
    private enum Item {
        case bytes([UInt8])
        case events([Event])
    }

    /// What a batch of events counts for in `backlog` before it is formatted (a line's size).
    private static let bytesPerEvent = 160

    /// Creates `path`, which must not exist (two recordings in one folder would splice their
    /// records), with `mode`, and starts the writer thread; throws the system's error.
    init(path: String, mode: mode_t = 0o644, formatEvents: (([Event], inout [UInt8]) -> Void)? = nil) throws(RecordingError) {
        self.path = path
        self.formatEvents = formatEvents
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw RecordingError(path: path, errno: errno) }
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(drained, nil)
        let me = Unmanaged.passRetained(self).toOpaque()
        guard pthread_create(&thread, nil, backgroundWriterMain, me) == 0 else {
            Unmanaged<BackgroundWriter>.fromOpaque(me).release()
            close(fd)
            throw RecordingError(path: path, errno: EAGAIN)
        }
        started = true
    }

    deinit {
        close(fd)
        pthread_cond_destroy(drained)
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(lock)
        drained.deallocate()
        wake.deallocate()
        lock.deallocate()
    }

    /// The first write error, once one happened (errno: ENOSPC, EIO…).
    var failure: Int32? {
        locked { error == 0 ? nil : error }
    }

    /// Bytes handed over and not yet written.
    var backlog: Int { locked { queuedBytes } }

    /// Queues `bytes` for writing (taking the array) and leaves `bytes` an empty buffer with
    /// capacity, reused from one already written when there is one.
    func submit(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        var next: [UInt8] = []
        locked {
            if error == 0 && !closing {
                queuedBytes += bytes.count
                queue.append(.bytes(bytes))
                pthread_cond_signal(wake)
            }
            next = spare.popLast() ?? []
        }
        if next.capacity == 0 { next.reserveCapacity(bytes.capacity) }
        bytes = next
    }

    /// Queues `events` to be formatted and written (taking the array), and leaves `events` an
    /// empty list with capacity, as `submit` does for bytes.
    func submit(events: inout [Event]) {
        guard !events.isEmpty else { return }
        var next: [Event] = []
        locked {
            if error == 0 && !closing {
                queuedBytes += events.count * Self.bytesPerEvent
                queue.append(.events(events))
                pthread_cond_signal(wake)
            }
            next = spareEvents.popLast() ?? []
        }
        if next.capacity == 0 { next.reserveCapacity(events.capacity) }
        events = next
    }

    /// Waits until everything submitted is written (or failed), at most `timeout`: a disk that
    /// hangs must not hang the process's exit.
    func drain(timeout: Duration = .seconds(5)) {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let (seconds, atto) = timeout.components
        deadline.tv_sec += Int(seconds)
        deadline.tv_nsec += Int(atto / 1_000_000_000)
        if deadline.tv_nsec >= 1_000_000_000 { deadline.tv_sec += 1; deadline.tv_nsec -= 1_000_000_000 }
        locked {
            while (!queue.isEmpty || writing) && error == 0 {
                if pthread_cond_timedwait(drained, lock, &deadline) == ETIMEDOUT { break }
            }
        }
    }

    /// Writes what is queued (at most `timeout`), then ends the thread; later submits are dropped.
    func finish(timeout: Duration = .seconds(5)) {
        drain(timeout: timeout)
        locked {
            closing = true
            pthread_cond_signal(wake)
        }
        // The thread may still be inside a write to a hung disk: it is detached, and holds its
        // own reference, so it ends on its own.
        if started { pthread_detach(thread); started = false }
    }

    /// The writer thread: takes the oldest buffer, writes it whole, repeats.
    fileprivate func runThread() {
        while true {
            var item: Item?
            locked {
                while queue.isEmpty && !closing { pthread_cond_wait(wake, lock) }
                if !queue.isEmpty {
                    item = queue.removeFirst()
                    writing = true
                }
            }
            guard let item else { return }
            var code: Int32
            var counted: Int
            var buffer: [UInt8] = []
            var events: [Event] = []
            switch item {
            case .bytes(let bytes):
                buffer = bytes
                counted = buffer.count
                code = writeWhole(buffer)
                buffer.removeAll(keepingCapacity: true)
            case .events(let batch):
                events = batch
                counted = events.count * Self.bytesPerEvent
                formatted.removeAll(keepingCapacity: true)
                formatEvents?(events, &formatted)
                code = writeWhole(formatted)
                events.removeAll(keepingCapacity: true)
            }
            locked {
                writing = false
                queuedBytes -= counted
                if code != 0 && error == 0 {
                    error = code
                    queue.removeAll()
                    queuedBytes = 0
                }
                if buffer.capacity > 0 && spare.count < 2 { spare.append(buffer) }
                if events.capacity > 0 && spareEvents.count < 2 { spareEvents.append(events) }
                pthread_cond_broadcast(drained)
            }
        }
    }

    /// write(2) until all of `buffer` is on disk; 0 or the errno that stopped it. A buffer that
    /// cannot be written whole (a disk filling up mid-way) is cut off the file again: it would
    /// end in a partial record (half a JSON line, half a pcapng block).
    private func writeWhole(_ buffer: [UInt8]) -> Int32 {
        var done = 0
        var code: Int32 = 0
        buffer.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            while done < bytes.count {
                let wrote = write(fd, base + done, bytes.count - done)
                if wrote > 0 {
                    done += wrote
                } else if wrote < 0 && errno == EINTR {
                    continue
                } else {
                    code = wrote == 0 ? EIO : errno
                    return
                }
            }
        }
        if code == 0 {
            fileSize += off_t(done)
        } else if done > 0 {
            _ = ftruncate(fd, fileSize)
        }
        return code
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }
}

private func backgroundWriterMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let context else { return nil }
    let writer = Unmanaged<BackgroundWriter>.fromOpaque(context).takeRetainedValue()
    writer.runThread()
    return nil
}
