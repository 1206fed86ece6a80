/// `events.jsonl`: every event of the bus, one JSON object per line, through a
/// `BackgroundWriter` so the loop never waits for the disk.
///
/// Each line is `Event.json` with two members in front: `"v"` (the schema version,
/// `Event.jsonSchemaVersion`) and, after `time` (monotonic seconds since the run started),
/// `wall` (RFC 3339 UTC, microseconds). Events are handed to the writer in batches, which it
/// formats and writes: when about 64 KB of lines are waiting, at every phase change, a verdict, a stop signal, and at least once a second
/// (`tick`); a process killed outright loses at most the last second, and every line it left
/// is whole.
final class EventLog {
    private let writer: BackgroundWriter
    /// The events not yet handed to the writer, which formats them on its own thread: the loop
    /// pays an append per event.
    private var pending: [Event] = []
    private(set) var stopped = false
    /// About 64 KB of lines.
    private static let batch = 400

    /// Creates `path` and starts its writer thread, which formats with `EventLine`.
    init(path: String, clock: WallClock) throws(RecordingError) {
        let formatter = EventFormatter(clock: clock)
        writer = try BackgroundWriter(path: path) { events, bytes in formatter.format(events, into: &bytes) }
        pending.reserveCapacity(Self.batch * 2)
    }

    /// The file, for messages.
    var path: String { writer.path }

    /// Keeps `event` for its line; hands the batch over when it is full or the event marks a
    /// moment a reader of the file waits for.
    func record(_ event: Event) {
        guard !stopped else { return }
        pending.append(event)
        switch event.kind {
        case .phaseStarted, .phaseEnded, .stopping, .verdict, .commandExited, .recordingStopped:
            flush()
        default:
            if pending.count >= Self.batch { flush() }
        }
    }

    /// Hands what waits to the writer.
    func flush() {
        guard !pending.isEmpty else { return }
        writer.submit(events: &pending)
    }

    /// The write error that stopped the file, once there is one; the log then stops recording.
    func checkFailure() -> Int32? {
        guard !stopped, let code = writer.failure else { return nil }
        stopped = true
        pending.removeAll()
        return code
    }

    /// Flushes, waits for the disk (at most `timeout`) and ends the writer.
    func finish(timeout: Duration) {
        flush()
        writer.finish(timeout: timeout)
    }
}

/// Formats batches of events into lines on the writer thread (only there: its `EventLine`
/// keeps the wall clock's date from one event to the next).
private final class EventFormatter: @unchecked Sendable {
    private var line: EventLine

    init(clock: WallClock) {
        line = EventLine(clock: clock)
    }

    func format(_ events: [Event], into bytes: inout [UInt8]) {
        swap(&line.bytes, &bytes)
        for event in events { line.append(event) }
        swap(&line.bytes, &bytes)
    }
}
