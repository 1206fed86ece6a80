/// What a recording shows, distilled from its `events.jsonl` (streamed, memory bounded by the
/// number of proxies, faults, phases and open connections, not by the file's length) and its
/// `recording.json` and `scenario.yaml`. `ReportText` and `ReportHTML` render it; both take
/// every number from `ReportFigures`, so the two never disagree.
///
/// Times are microseconds on the run's monotonic clock (the events' `time`), 0 when the bus
/// started. Counts are attributed to the phase playing when their event happened: a request
/// and its outcome (answer, failure, latency) to the phase it was sent in, so a phase's
/// outcomes add up to its requests; connection attempts and handshakes to when they happened.
public struct RecordingSummary: Sendable {
    /// The recording's folder, as given.
    public var directory: String
    /// `recording.json`; nil members when the file is missing or lacks them.
    public var info = Info()
    /// From `scenario.yaml`, when the recording has one (`run`, `replay`).
    public var scenario: ScenarioInfo?
    /// The time of the last event read: the run's length as recorded.
    public var end: Int64 = 0
    /// The width of one bucket of every `ProxySummary.series`, in microseconds: 1 s, doubled
    /// as often as needed to keep a long recording within `RecordingSummary.maxBuckets`.
    public var bucketWidth: Int64 = 1_000_000
    /// Timeline phases in the order they started.
    public var phases: [Phase] = []
    /// Faults, per proxy and name, in the order they were first seen.
    public var faults: [FaultTrack] = []
    /// Proxies in the order they were first seen.
    public var proxies: [ProxySummary] = []
    /// Commands under test.
    public var commands: [CommandRun] = []
    /// Signals that ended the run early.
    public var stops: [Stop] = []
    /// Expectations judged at the end, in order.
    public var verdicts: [VerdictRecord] = []
    /// Files of the recording that stopped growing (`capture.pcapng` at its limit, a full disk).
    public var recordingStops: [RecordingStop] = []
    /// How the file read.
    public var lines = LineCounts()

    /// The most buckets a series holds; beyond, buckets double in width.
    public static let maxBuckets = 1200

    /// Creates an empty summary of `directory`.
    public init(directory: String) { self.directory = directory }

    /// `recording.json`.
    public struct Info: Sendable {
        public var faultline: String?
        /// What recorded: `run`, `serve`, `proxy`.
        public var command: String?
        /// Wall-clock time at the bus's zero (RFC 3339 UTC).
        public var started: String?
        public var seed: UInt64?
        public var capture: Bool?
        public var redacted: Bool?
        public init() {}
    }

    /// The scenario as recorded.
    public struct ScenarioInfo: Sendable {
        public var name: String
        public var description: String?
        /// Phases as planned: name and duration in microseconds.
        public var plannedPhases: [(name: String, duration: Int64)]
        /// Proxy name → protocol (`tcp`, `redis`, `http`) and whether it terminates TLS.
        public var proxies: [(name: String, protocol: String, tls: Bool, listen: String, upstream: String)]
        /// Set when the file did not load (a CA file moved since, say): then only `name` is known.
        public var loadError: String?
    }

    /// One phase as played.
    public struct Phase: Sendable {
        public var name: String
        public var start: Int64
        /// Nil when the recording ends inside it.
        public var end: Int64?
    }

    /// One fault on one proxy: when it was on, how often it was applied and fired.
    public struct FaultTrack: Sendable {
        public var proxy: String
        public var name: String
        /// The fault kind (`tcp.cutoff`).
        public var kind: String
        /// On/off spans; `off` nil when it was still on at the end.
        public var spans: [(on: Int64, off: Int64?)] = []
        /// `faultApplied` events: connections or requests the fault was chosen for.
        public var applied = 0
        /// `faultFired` events by action (`cut`, `delayed`), in the order first seen.
        public var fired: [(action: String, count: Int)] = []
        /// Fired events per bucket (index → count), for the timeline's marks.
        public var firedBuckets: [Int: Int] = [:]

        /// Every firing, whatever the action.
        public var firedTotal: Int { fired.reduce(0) { $0 + $1.count } }
    }

    /// The command under test.
    public struct CommandRun: Sendable {
        public var command: String
        public var pid: Int64?
        public var start: Int64
        /// When and how it ended: `exited with status 0`, `killed by signal 9`.
        public var exitTime: Int64?
        public var exit: String?
        /// The shell's status (128+N when killed by N).
        public var status: Int64?
    }

    /// A signal that ended the run early.
    public struct Stop: Sendable {
        public var time: Int64
        public var signal: Int64
    }

    /// An expectation's verdict as recorded.
    public struct VerdictRecord: Sendable {
        public var label: String
        public var expectation: String
        /// `pass`, `fail` or `error`.
        public var status: String
        public var observed: String
        public var time: Int64
    }

    /// A file of the recording that stopped growing.
    public struct RecordingStop: Sendable {
        public var time: Int64
        public var file: String
        public var reason: String
    }

    /// What reading `events.jsonl` met.
    public struct LineCounts: Sendable {
        /// Lines read as events.
        public var events = 0
        /// Lines that did not parse or lacked `time`/`kind`; skipped.
        public var bad = 0
        /// The first of them (1-based), for the message.
        public var firstBad: Int?
        /// Events of a kind this faultline does not know (a newer writer); skipped.
        public var unknownKinds = 0
        /// Lines written with another schema version than `Event.jsonSchemaVersion`; skipped.
        public var otherVersion = 0
        /// The file ended without a newline: its last line was cut short (SIGKILL) and ignored.
        public var partialLast = false
        /// Whether `events.jsonl` was there at all.
        public var missing = false
    }
}

/// Traffic on one proxy.
public struct ProxySummary: Sendable {
    public var name: String
    /// `tcp`, `redis` or `http` (from the scenario, else guessed from its events).
    public var protocolName: String
    /// Whether it terminated TLS (scenario) or saw handshakes.
    public var tls: Bool
    /// Where it listened, from its `listening` event.
    public var address: String?
    /// Counts per phase, parallel to `RecordingSummary.phases`.
    public var phases: [TrafficCounts] = []
    /// Counts outside every phase (before the first, between, after the last; all of a
    /// serve or proxy recording).
    public var outside = TrafficCounts()
    /// Counts over the whole recording.
    public var total = TrafficCounts()
    /// Per bucket of `RecordingSummary.bucketWidth`, from time 0.
    public var series: [TrafficCounts] = []
    /// TLS handshake outcomes: profile, `completed` or `failed`, and the alert or reason.
    public var handshakes: [(profile: String, completed: Bool, detail: String, count: Int)] = []
    /// Error answers: code (`NOAUTH`, `503`), whether faultline answered, count.
    public var errors: [(code: String, byFaultline: Bool, count: Int)] = []
    /// HTTP statuses: status, whether faultline answered, count.
    public var statuses: [(status: Int64, byFaultline: Bool, count: Int)] = []
    /// Upstream failures by reason.
    public var upstreamFailures: [(reason: String, count: Int)] = []

    public init(name: String, protocolName: String, tls: Bool) {
        self.name = name
        self.protocolName = protocolName
        self.tls = tls
    }
}

/// What a client did in a stretch of time, as the expectations count it (a request on a TCP
/// proxy is an exchange; on redis and http a command or request).
public struct TrafficCounts: Sendable, Equatable {
    /// Connections the proxy accepted.
    public var attempts = 0
    /// Requests sent (a connection that never reached the upstream counts as one that failed).
    public var requests = 0
    /// Answered without an error (an accepted AUTH or HELLO included).
    public var ok = 0
    /// Answered with an error by the upstream (`LOADING`, a 5xx).
    public var errors = 0
    /// Answered with an error by faultline (a fault's reply, a `http.respond` 4xx/5xx).
    public var byFaultline = 0
    /// Given up by the client before an answer.
    public var abandoned = 0
    /// Cut, reset or closed with no answer, or the upstream unreachable.
    public var failed = 0
    /// Still unanswered when the recording ended (a hang, a run cut short).
    public var unfinished = 0
    /// TLS handshakes completed and failed.
    public var tlsCompleted = 0
    public var tlsFailed = 0
    /// Connections that ended with an RST.
    public var resets = 0
    /// Latencies of answered requests.
    public var latency = LatencyBins()

    public init() {}

    /// Adds `other`'s counts.
    mutating func merge(_ other: TrafficCounts) {
        attempts += other.attempts
        requests += other.requests
        ok += other.ok
        errors += other.errors
        byFaultline += other.byFaultline
        abandoned += other.abandoned
        failed += other.failed
        unfinished += other.unfinished
        tlsCompleted += other.tlsCompleted
        tlsFailed += other.tlsFailed
        resets += other.resets
        latency.merge(other.latency)
    }

    /// Whether anything happened.
    public var isEmpty: Bool { attempts == 0 && requests == 0 && ok + errors + byFaultline + abandoned + failed == 0
        && unfinished == 0 && tlsCompleted + tlsFailed == 0 }
}
