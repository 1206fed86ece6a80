/// `events.jsonl`: every event of the bus, one JSON object per line, through a
/// `BackgroundWriter` so the loop never waits for the disk.
///
/// Each line is `Event.json` with two members in front: `"v"` (the schema version,
/// `Event.jsonSchemaVersion`) and, after `time` (monotonic seconds since the run started),
/// `wall` (RFC 3339 UTC, microseconds). Lines are handed to the writer in batches: when 64 KB
/// are waiting, at every phase change, a verdict, a stop signal, and at least once a second
/// (`tick`); a process killed outright loses at most the last second, and every line it left
/// is whole.
final class EventLog {
    private let writer: BackgroundWriter
    /// The lines not yet handed to the writer.
    private var lines: EventLine
    private(set) var stopped = false
    private static let batch = 64 * 1024

    /// Creates `path` (truncating it) and starts its writer thread.
    init(path: String, clock: WallClock) throws(RecordingError) {
        writer = try BackgroundWriter(path: path)
        lines = EventLine(clock: clock)
        lines.bytes.reserveCapacity(Self.batch * 2)
    }

    /// The file, for messages.
    var path: String { writer.path }

    /// Appends `event`'s line; hands the batch over when it is full or the event marks a moment
    /// a reader of the file waits for.
    func record(_ event: Event) {
        guard !stopped else { return }
        lines.append(event)
        switch event.kind {
        case .phaseStarted, .phaseEnded, .stopping, .verdict, .commandExited, .recordingStopped:
            flush()
        default:
            if lines.bytes.count >= Self.batch { flush() }
        }
    }

    /// Hands what waits to the writer.
    func flush() {
        guard !lines.bytes.isEmpty else { return }
        writer.submit(&lines.bytes)
    }

    /// The write error that stopped the file, once there is one; the log then stops recording.
    func checkFailure() -> Int32? {
        guard !stopped, let code = writer.failure else { return nil }
        stopped = true
        lines.bytes.removeAll()
        return code
    }

    /// Flushes, waits for the disk (at most `timeout`) and ends the writer.
    func finish(timeout: Duration) {
        flush()
        writer.finish(timeout: timeout)
    }
}
