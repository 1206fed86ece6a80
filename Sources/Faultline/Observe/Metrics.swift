/// A proxy's live state, given to `Metrics.render` for the gauges (the counters come from
/// events).
public struct MetricsProxy: Sendable {
    public var name: String
    public var listen: String
    public var upstream: String
    /// `tcp`, `redis`, `http`.
    public var `protocol`: String
    public var enabled: Bool
    public var openConnections: Int
    /// The faults active on the proxy now: their names and kinds.
    public var activeFaults: [(name: String, kind: String)]

    public init(name: String, listen: String, upstream: String, protocol: String, enabled: Bool,
                openConnections: Int, activeFaults: [(name: String, kind: String)]) {
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.protocol = `protocol`
        self.enabled = enabled
        self.openConnections = openConnections
        self.activeFaults = activeFaults
    }
}

/// Counts events per proxy and renders them, with the proxies' live gauges, in Prometheus's
/// text exposition format 0.0.4 (`GET /metrics`).
///
/// `record` runs on the data path (every connection, every request): it finds the proxy's
/// counters (the last proxy's are kept at hand) and bumps a number; it builds no text (a
/// request's command word is packed into integers, see `CommandWord`). Labels whose values come from clients (commands, error codes) are
/// capped at `labelLimit` distinct values per proxy; the rest count under `other`.
/// Not thread-safe: record and render on the loop thread, where the bus delivers.
public final class Metrics {
    /// Distinct `command` (and `error`) label values kept per proxy; further ones count as `other`.
    public static let labelLimit = 64
    /// The latency histogram's upper bounds in nanoseconds, and as the `le` label writes them.
    static let latencyBounds: [(nanoseconds: UInt64, label: String)] = [
        (1_000_000, "0.001"), (5_000_000, "0.005"), (10_000_000, "0.01"), (25_000_000, "0.025"),
        (50_000_000, "0.05"), (100_000_000, "0.1"), (250_000_000, "0.25"), (500_000_000, "0.5"),
        (1_000_000_000, "1"), (2_500_000_000, "2.5"), (5_000_000_000, "5"), (10_000_000_000, "10"),
    ]

    private var counts: [String: ProxyCounts] = [:]
    private var lastName = ""
    private var last: ProxyCounts?
    private var phase: String?

    /// Metrics with nothing counted.
    public init() {}

    /// Counts one event. Cheap: called for every connection and request.
    public func record(_ event: Event) {
        switch event.kind {
        case .phaseStarted(let name):
            phase = name
            return
        case .phaseEnded(let name):
            if phase == name { phase = nil }
            return
        case .listening, .upstreamConnected, .faultOn, .faultOff, .commandStarted, .commandExited, .stopping:
            return
        default:
            break
        }
        guard let name = event.proxy else { return }
        let proxy: ProxyCounts
        if let last, lastName == name {
            proxy = last
        } else if let found = counts[name] {
            proxy = found
            (lastName, last) = (name, found)
        } else {
            proxy = ProxyCounts()
            counts[name] = proxy
            (lastName, last) = (name, proxy)
        }
        proxy.record(event.kind)
    }

    /// Drops what was counted for `proxy` (it was deleted); its series leave the output.
    public func forget(proxy: String) {
        counts[proxy] = nil
        if lastName == proxy { (lastName, last) = ("", nil) }
    }

    /// The metrics text for `proxies` (their counters and live gauges; proxies not listed are
    /// left out) and the run's phase. Families in a fixed order, each with `# HELP` and
    /// `# TYPE` even when it has no series; series sorted by their label values.
    public func render(proxies: [MetricsProxy]) -> String {
        var seen = Set<String>()
        let listed = proxies.filter { seen.insert($0.name).inserted }.sorted { $0.name < $1.name }
        let empty = ProxyCounts()
        let rows = listed.map { (info: $0, counts: counts[$0.name] ?? empty) }
        var out = MetricsText()

        out.family("faultline_proxy_enabled", .gauge, "Whether the proxy accepts connections (1) or not (0).",
                   ["proxy", "listen", "upstream", "protocol"],
                   rows.map { ([$0.info.name, $0.info.listen, $0.info.upstream, $0.info.protocol], $0.info.enabled ? 1 : 0) })
        out.family("faultline_connections_open", .gauge, "Client connections open now.", ["proxy"],
                   rows.map { ([$0.info.name], Int64($0.info.openConnections)) })
        out.family("faultline_connections_total", .counter, "Client connections accepted.", ["proxy"],
                   rows.map { ([$0.info.name], $0.counts.opened) })
        out.family("faultline_connections_closed_total", .counter,
                   "Connections closed: with FIN on both sides, or reset (an RST on either side).", ["proxy", "how"],
                   rows.flatMap { [([$0.info.name, "fin"], $0.counts.closedFin), ([$0.info.name, "reset"], $0.counts.closedReset)] })
        out.family("faultline_bytes_total", .counter,
                   "Bytes relayed: upstream (client to upstream) and downstream; a connection's bytes count once it closes.",
                   ["proxy", "direction"],
                   rows.flatMap { [([$0.info.name, "upstream"], $0.counts.bytesUp), ([$0.info.name, "downstream"], $0.counts.bytesDown)] })
        out.family("faultline_upstream_failures_total", .counter,
                   "Upstream connects that were refused, unreachable or timed out (the client was closed).", ["proxy"],
                   rows.map { ([$0.info.name], $0.counts.upstreamFailures) })

        out.family("faultline_fault_active", .gauge, "Faults active on the proxy now.", ["proxy", "fault", "kind"],
                   rows.flatMap { row in row.info.activeFaults.map { ([row.info.name, $0.name, $0.kind], Int64(1)) } }
                       .uniqued())
        out.family("faultline_faults_applied_total", .counter,
                   "Times a fault was chosen for a connection (first/every/probability said yes).", ["proxy", "fault", "kind"],
                   rows.flatMap { row in row.counts.applied.map { ([row.info.name, $0.key.name, $0.key.kind], $0.value) } })
        out.family("faultline_faults_fired_total", .counter,
                   "Times a fault acted, by what it did (cut, reset, rejected, refused, delayed, ...).",
                   ["proxy", "fault", "kind", "action"],
                   rows.flatMap { row in row.counts.fired.map { ([row.info.name, $0.key.name, $0.key.kind, $0.key.action], $0.value) } })

        out.family("faultline_requests_total", .counter,
                   "Requests: commands and HTTP requests parsed, or for plain TCP, client sends while nothing was outstanding.",
                   ["proxy"], rows.map { ([$0.info.name], $0.counts.requests) })
        out.family("faultline_requests_by_command_total", .counter,
                   "Requests by command (Redis command or HTTP method); past \(Self.labelLimit) distinct ones per proxy, counted as other.",
                   ["proxy", "command"],
                   rows.flatMap { row in
                       row.counts.commands.map { ([row.info.name, $0.word.text], $0.count) }
                           + (row.counts.otherCommands > 0 ? [([row.info.name, "other"], row.counts.otherCommands)] : [])
                   })
        out.family("faultline_responses_total", .counter,
                   "Requests by outcome: answered, answered with an error, or abandoned by the client.", ["proxy", "outcome"],
                   rows.flatMap {
                       [([$0.info.name, "answered"], $0.counts.answered), ([$0.info.name, "error"], $0.counts.errored),
                        ([$0.info.name, "abandoned"], $0.counts.abandoned)]
                   })
        out.family("faultline_request_errors_total", .counter,
                   "Error answers by error (Redis error code, HTTP 5xx status, incomplete response); past \(Self.labelLimit) distinct ones per proxy, counted as other.",
                   ["proxy", "error"],
                   rows.flatMap { row in
                       row.counts.errors.map { ([row.info.name, $0.key], $0.value) }
                           + (row.counts.otherErrors > 0 ? [([row.info.name, "other"], row.counts.otherErrors)] : [])
                   })
        out.family("faultline_http_responses_total", .counter,
                   "HTTP response heads sent to clients, by status and by who wrote them.", ["proxy", "status", "by"],
                   rows.flatMap { row in
                       row.counts.httpResponses.map { ([row.info.name, String($0.key.status), $0.key.byFaultline ? "faultline" : "upstream"], $0.value) }
                   })
        out.histogram("faultline_request_latency_seconds",
                      "Time from a request's arrival to its answer reaching the client (HTTP: the whole response).",
                      rows.map { ($0.info.name, $0.counts.latency) })
        out.family("faultline_tls_handshakes_total", .counter, "Client TLS handshakes with the proxy, by result and certificate profile.",
                   ["proxy", "result", "profile"],
                   rows.flatMap { row in
                       row.counts.handshakes.map { ([row.info.name, $0.key.completed ? "completed" : "failed", $0.key.profile], $0.value) }
                   })
        out.family("faultline_protocol_errors_total", .counter,
                   "Bytes that broke the protocol, from the client or from the upstream.", ["proxy", "from"],
                   rows.flatMap {
                       [([$0.info.name, "client"], $0.counts.protocolErrorsClient), ([$0.info.name, "upstream"], $0.counts.protocolErrorsUpstream)]
                   })

        out.family("faultline_phase_info", .gauge, "The timeline phase running now (1); no series between phases.", ["phase"],
                   phase.map { [([$0], Int64(1))] } ?? [])
        return out.text
    }
}

// MARK: - counting

/// One proxy's counters.
private final class ProxyCounts {
    struct FaultKey: Hashable { let name, kind: String }
    struct FiredKey: Hashable { let name, kind, action: String }
    struct StatusKey: Hashable { let status: Int; let byFaultline: Bool }
    struct HandshakeKey: Hashable { let completed: Bool; let profile: String }

    var opened: UInt64 = 0
    var closedFin: UInt64 = 0
    var closedReset: UInt64 = 0
    var bytesUp: UInt64 = 0
    var bytesDown: UInt64 = 0
    var upstreamFailures: UInt64 = 0
    var applied: [FaultKey: UInt64] = [:]
    var fired: [FiredKey: UInt64] = [:]
    var requests: UInt64 = 0
    /// Few (at most `Metrics.labelLimit`): a scan beats hashing. In order of first use.
    var commands: [(word: CommandWord, count: UInt64)] = []
    var otherCommands: UInt64 = 0
    var answered: UInt64 = 0
    var errored: UInt64 = 0
    var abandoned: UInt64 = 0
    var errors: [String: UInt64] = [:]
    var otherErrors: UInt64 = 0
    var httpResponses: [StatusKey: UInt64] = [:]
    var latency = LatencyHistogram()
    var handshakes: [HandshakeKey: UInt64] = [:]
    var protocolErrorsClient: UInt64 = 0
    var protocolErrorsUpstream: UInt64 = 0

    func record(_ kind: Event.Kind) {
        switch kind {
        case .connectionOpened:
            opened &+= 1
        case .connectionClosed(let up, let down, let reset):
            if reset { closedReset &+= 1 } else { closedFin &+= 1 }
            bytesUp &+= up
            bytesDown &+= down
        case .upstreamFailed:
            upstreamFailures &+= 1
        case .faultApplied(let name, let kind):
            applied[FaultKey(name: name, kind: kind), default: 0] &+= 1
        case .faultFired(let name, let kind, let action):
            fired[FiredKey(name: name, kind: kind, action: action), default: 0] &+= 1
        case .exchangeStarted:
            requests &+= 1
        case .requestStarted(let detail):
            requests &+= 1
            countCommand(CommandWord(detail))
        case .exchangeAnswered:
            answered &+= 1
        case .requestAnswered(let error, _, let latency, _):
            if let error {
                errored &+= 1
                Self.count(error, in: &errors, other: &otherErrors)
            } else {
                answered &+= 1
            }
            self.latency.observe(latency)
        case .requestAbandoned, .exchangeAbandoned:
            abandoned &+= 1
        case .responseStarted(let status, let byFaultline, _):
            httpResponses[StatusKey(status: status, byFaultline: byFaultline), default: 0] &+= 1
        case .tlsHandshakeCompleted(let profile, _, _, _, _):
            handshakes[HandshakeKey(completed: true, profile: profile), default: 0] &+= 1
        case .tlsHandshakeFailed(let profile, _, _):
            handshakes[HandshakeKey(completed: false, profile: profile), default: 0] &+= 1
        case .protocolError(let fromClient, _):
            if fromClient { protocolErrorsClient &+= 1 } else { protocolErrorsUpstream &+= 1 }
        case .listening, .upstreamConnected, .faultOn, .faultOff, .phaseStarted, .phaseEnded, .commandStarted,
             .commandExited, .stopping, .verdict, .recordingStopped:
            break
        }
    }

    /// Counts a request under its command while fewer than `Metrics.labelLimit` are kept, and
    /// under `other` after that or when it has no word (commands kept go on counting).
    private func countCommand(_ word: CommandWord?) {
        guard let word else {
            otherCommands &+= 1
            return
        }
        var index = 0
        while index < commands.count {
            if commands[index].word == word {
                commands[index].count &+= 1
                return
            }
            index += 1
        }
        if commands.count < Metrics.labelLimit { commands.append((word, 1)) } else { otherCommands &+= 1 }
    }

    /// Counts `value` under its own label while fewer than `Metrics.labelLimit` values are
    /// kept, under `other` after that (values already kept go on counting). One hash lookup.
    private static func count(_ value: String, in counts: inout [String: UInt64], other: inout UInt64) {
        if let index = counts.index(forKey: value) {
            counts.values[index] &+= 1
        } else if counts.count < Metrics.labelLimit {
            counts[value] = 1
        } else {
            other &+= 1
        }
    }
}

/// A request detail's first word (`GET` of `get session:42`), ASCII upper-cased and packed into
/// three integers, so that counting a command builds no String.
struct CommandWord: Equatable {
    /// The longest word kept; longer ones (and empty ones, or ones with a NUL) have no word.
    static let capacity = 24
    private var bytes: (UInt64, UInt64, UInt64) = (0, 0, 0)

    init?(_ detail: String) {
        var count = 0
        for byte in detail.utf8 {
            if byte == 0x20 { break }
            guard byte != 0, count < Self.capacity else { return nil }
            let upper = UInt64(byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte) << UInt64((count & 7) * 8)
            switch count >> 3 {
            case 0: bytes.0 |= upper
            case 1: bytes.1 |= upper
            default: bytes.2 |= upper
            }
            count += 1
        }
        guard count > 0 else { return nil }
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.bytes.0 == rhs.bytes.0 && lhs.bytes.1 == rhs.bytes.1 && lhs.bytes.2 == rhs.bytes.2
    }

    /// The word as the label writes it.
    var text: String {
        var utf8: [UInt8] = []
        for part in [bytes.0, bytes.1, bytes.2] {
            for shift in stride(from: 0, to: 64, by: 8) {
                let byte = UInt8(truncatingIfNeeded: part >> UInt64(shift))
                if byte == 0 { return String(decoding: utf8, as: UTF8.self) }
                utf8.append(byte)
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }
}

/// Latency counts per bucket (not cumulative; the last one is +Inf), their sum and count.
struct LatencyHistogram {
    var buckets = [UInt64](repeating: 0, count: Metrics.latencyBounds.count + 1)
    var sumNanoseconds: UInt64 = 0
    var count: UInt64 = 0

    mutating func observe(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds < 0 || attoseconds < 0
            ? 0 : UInt64(clamping: seconds).multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ UInt64(attoseconds / 1_000_000_000)
        var index = 0
        while index < Metrics.latencyBounds.count && nanoseconds > Metrics.latencyBounds[index].nanoseconds { index += 1 }
        buckets[index] &+= 1
        sumNanoseconds &+= nanoseconds
        count &+= 1
    }
}
