import Glibc
import Logging

/// `--record DIR`: what a run, a server or an ad-hoc proxy did, for a postmortem.
///
/// Writes `recording.json` (what made the recording), `events.jsonl` (every event of the
/// bus), `capture.pcapng` (both legs of every link on a proxy of the bus, unless
/// `options.capture` is off), `report.html` when it finishes and, from the caller,
/// `scenario.yaml`. Files are written by
/// background threads; the loop only appends to memory. A write that fails (a full disk)
/// stops that file with an event and a warning, and the proxies carry on.
public final class Recording {
    /// The folder.
    public let directory: String
    /// What was asked for.
    public let options: RecordingOptions
    private let folder: RecordingDirectory
    private let bus: EventBus
    private let log: Logger
    private let clock: WallClock
    private let events: EventLog
    private let capture: Capture?
    private var tick: Timer?
    private var finished = false

    /// Creates DIR (with its parents), opens its files and starts recording `bus`'s events;
    /// throws when DIR or a file in it cannot be written. `command` names what records
    /// (`run`, `serve`, `proxy`) in `recording.json`.
    public init(options: RecordingOptions, command: String, seed: UInt64?, bus: EventBus, loop: EventLoop,
                log: Logger) throws(RecordingError) {
        folder = try RecordingDirectory(options.directory)
        directory = folder.path
        self.options = options
        self.bus = bus
        self.log = log
        clock = WallClock(busNow: bus.now)
        let started = clock.text(at: .zero)
        events = try EventLog(path: folder.file("events.jsonl"), clock: clock)
        capture = options.capture
            ? try Capture(path: folder.file("capture.pcapng"), limit: options.captureLimit, redact: options.redact,
                          clock: clock, bus: bus)
            : nil
        try folder.write("recording.json", RecordingInfo.json(command: command, seed: seed, options: options,
                                                              started: started))
        bus.capture = capture
        capture?.stopped = { [weak self] reason in self?.report(file: "capture.pcapng", reason: reason) }
        // The log itself, held by the bus: no weak load per event (200,000 a second under load).
        let log = events
        bus.subscribe { event in log.record(event) }
        tick = Timer(loop: loop) { [weak self] in self?.everySecond() }
        tick?.schedule(after: .seconds(1))
    }

    /// Writes a small file of the recording (`scenario.yaml`); a failure is a warning.
    public func write(_ name: String, _ text: String) {
        do { try folder.write(name, text) } catch { log.warning("recording: \(error)") }
    }

    /// Hands everything recorded so far to the writers (a signal arrived: the process may not
    /// get another chance).
    public func flush() {
        events.flush()
        capture?.flush()
    }

    /// Flushes, waits for the files to reach the disk (at most `timeout` each) and stops.
    public func finish(timeout: Duration = .seconds(5)) {
        guard !finished else { return }
        checkFailures()
        finished = true
        tick = nil
        bus.capture = nil
        capture?.finish(timeout: timeout)
        checkFailures()
        events.finish(timeout: timeout)
        // From the file, once it is complete: the page shows what a reader of the folder gets.
        // A huge file would hold the exit for long (about 2 s a million events): it is left
        // to `faultline report`, which says so.
        var info = stat()
        if stat(folder.file("events.jsonl"), &info) == 0, info.st_size > Self.largestReportedEvents {
            let size = info.st_size / 1_000_000
            log.warning("recording: report.html not written at exit: events.jsonl is \(size) MB; write it with: faultline report \(directory) --html \(folder.file("report.html"))")
            return
        }
        do {
            write("report.html", RecordingReport.html(try RecordingReport.load(directory: directory)))
        } catch {
            log.warning("recording: report.html not written: \(error)")
        }
    }

    /// `events.jsonl` above this size (about 1.5 million events) gets no report.html at exit.
    static let largestReportedEvents = 256 * 1_000_000

    private func everySecond() {
        checkFailures()
        flush()
        tick?.schedule(after: .seconds(1))
    }

    /// Turns a writer's failure or the capture's end into an event and a warning, once.
    private func checkFailures() {
        if let code = events.checkFailure() {
            report(file: "events.jsonl", reason: String(cString: strerror(code)))
        }
        if let reason = capture?.takeStopReason() {
            report(file: "capture.pcapng", reason: reason)
        }
    }

    private func report(file: String, reason: String) {
        log.warning("recording: \(folder.file(file)) stopped: \(reason); the proxies carry on")
        bus.emit(.recordingStopped(file: file, reason: reason))
    }
}
