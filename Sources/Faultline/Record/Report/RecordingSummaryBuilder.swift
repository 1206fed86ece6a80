/// Builds a `RecordingSummary` one event line at a time.
///
/// Requests, answers and failures are counted as `TCPFactExtractor` counts them for the
/// expectations (the same per-connection rules: an exchange outstanding when its connection
/// ends failed; a connection that never reached the upstream is one failed request), so the
/// report's figures and the verdicts' describe the same traffic. Two differences: an accepted
/// AUTH or HELLO counts as `ok` here (the report shows every answer), while the expectations
/// leave it out of their successes; and an outcome is counted where its request was sent
/// (phase and bucket), where a fact is timed when it happens.
///
/// Memory: per proxy one `TrafficCounts` per phase and per bucket (at most
/// `RecordingSummary.maxBuckets`), per open connection a few words; nothing per line.
struct RecordingSummaryBuilder {
    private(set) var summary: RecordingSummary
    private var fields = EventFields()
    private var lineNumber = 0
    private var currentPhase: Int?
    /// Proxy names as bytes, parallel to `summary.proxies`, to find a line's proxy without decoding it.
    private var proxyBytes: [[UInt8]] = []
    private var faultIndex: [String: Int] = [:]
    private var links: [LinkKey: LinkState] = [:]
    /// Protocol and TLS per proxy name, from the scenario.
    private let declared: [String: (protocol: String, tls: Bool)]

    private struct LinkKey: Hashable {
        let proxy: Int
        let link: UInt64
    }

    private struct LinkState {
        /// When the client connected: the time of the request a connection that never
        /// reached the upstream counts as.
        var openedAt: Int64
        var connected = false
        var outstanding = false
        var outstandingSince: Int64 = 0
        /// When each parsed request not answered yet was sent, oldest first (protocol proxies);
        /// past `LinkState.queueLimit` the newest share one time (a client pipelining without end).
        var unanswered: [Int64] = []
        var overflow = 0
        var ended = false
        static let queueLimit = 4096

        var unansweredCount: Int { unanswered.count + overflow }

        mutating func push(_ time: Int64) {
            if unanswered.count < Self.queueLimit { unanswered.append(time) } else { overflow += 1 }
        }

        /// The oldest unanswered request's send time.
        mutating func pop() -> Int64? {
            if !unanswered.isEmpty { return unanswered.removeFirst() }
            guard overflow > 0 else { return nil }
            overflow -= 1
            return openedAt
        }
    }

    /// A summary of `directory`; `scenario` (when the recording has one) names the proxies' protocols.
    init(directory: String, info: RecordingSummary.Info, scenario: RecordingSummary.ScenarioInfo?) {
        summary = RecordingSummary(directory: directory)
        summary.info = info
        summary.scenario = scenario
        var declared: [String: (protocol: String, tls: Bool)] = [:]
        for proxy in scenario?.proxies ?? [] { declared[proxy.name] = (proxy.protocol, proxy.tls) }
        self.declared = declared
        // Declared proxies come first, in the scenario's order, even when they saw nothing.
        for proxy in scenario?.proxies ?? [] { _ = proxyIndex(named: proxy.name) }
    }

    /// Reads one line (without its newline). A line that is not an event is counted and skipped.
    /// `bad` says the reader already knows it is no event (a line too long to buffer).
    mutating func add(line: UnsafeBufferPointer<UInt8>, bad: Bool = false) {
        lineNumber += 1
        guard !bad, fields.read(line), let time = fields.micros(.time), fields.value(.kind) != nil else {
            if !bad && line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }  // a blank line is no event
            summary.lines.bad += 1
            if summary.lines.firstBad == nil { summary.lines.firstBad = lineNumber }
            return
        }
        if let version = fields.unsigned(.v), version != UInt64(Event.jsonSchemaVersion) {
            summary.lines.otherVersion += 1
            return
        }
        guard let kind = fields.kind else {
            summary.lines.unknownKinds += 1
            return
        }
        summary.lines.events += 1
        summary.end = max(summary.end, time)
        apply(kind, at: time)
    }

    /// Marks `events.jsonl` as missing.
    mutating func markMissing() { summary.lines.missing = true }

    /// Marks the file as ending in a cut line.
    mutating func partialLastLine() { summary.lines.partialLast = true }

    private mutating func apply(_ kind: Event.KindName, at time: Int64) {
        switch kind {
        case .phaseStarted:
            summary.phases.append(.init(name: fields.text(.name) ?? "?", start: time, end: nil))
            currentPhase = summary.phases.count - 1
            for index in summary.proxies.indices { summary.proxies[index].phases.append(TrafficCounts()) }
        case .phaseEnded:
            let name = fields.text(.name) ?? "?"
            if let index = summary.phases.lastIndex(where: { $0.name == name && $0.end == nil }) {
                summary.phases[index].end = time
                if currentPhase == index { currentPhase = nil }
            }
        case .faultOn, .faultOff, .faultApplied, .faultFired:
            fault(kind, at: time)
        case .commandStarted:
            summary.commands.append(.init(command: fields.text(.command) ?? "?", pid: fields.unsigned(.pid).map(Int64.init),
                                          start: time))
        case .commandExited:
            let status = fields.unsigned(.status).map { Int64(clamping: $0) }
            var exit = "exited with status \(status.map(String.init) ?? "?")"
            if fields.text(.exit) == "killed", let signal = fields.unsigned(.signal), let signo = Int32(exactly: signal) {
                exit = CommandExit.killed(signal: signo).description
            }
            if let index = summary.commands.lastIndex(where: { $0.exit == nil }) {
                summary.commands[index].exit = exit
                summary.commands[index].exitTime = time
                summary.commands[index].status = status
            } else {
                summary.commands.append(.init(command: "?", pid: nil, start: time, exitTime: time, exit: exit, status: status))
            }
        case .stopping:
            summary.stops.append(.init(time: time, signal: Int64(clamping: fields.unsigned(.signal) ?? 0)))
        case .verdict:
            summary.verdicts.append(.init(label: fields.text(.label) ?? "?", expectation: fields.text(.expectation) ?? "?",
                                          status: fields.text(.status) ?? "error", observed: fields.text(.observed) ?? "",
                                          time: time))
        case .recordingStopped:
            summary.recordingStops.append(.init(time: time, file: fields.text(.file) ?? "?", reason: fields.text(.reason) ?? "?"))
        default:
            traffic(kind, at: time)
        }
    }

    // MARK: Faults

    private mutating func fault(_ kind: Event.KindName, at time: Int64) {
        let proxy = fields.text(.proxy) ?? ""
        let name = fields.text(.name) ?? "?"
        let key = proxy + "\u{0}" + name
        let index: Int
        if let known = faultIndex[key] {
            index = known
        } else {
            index = summary.faults.count
            faultIndex[key] = index
            summary.faults.append(.init(proxy: proxy, name: name, kind: fields.text(.faultKind) ?? "?"))
        }
        switch kind {
        case .faultOn:
            if summary.faults[index].spans.last.map({ $0.off != nil }) ?? true {
                summary.faults[index].spans.append((on: time, off: nil))
            }
        case .faultOff:
            if let last = summary.faults[index].spans.indices.last, summary.faults[index].spans[last].off == nil {
                summary.faults[index].spans[last].off = time
            } else {
                // Off without on: it was on when the recording began.
                summary.faults[index].spans.append((on: 0, off: time))
            }
        case .faultApplied:
            summary.faults[index].applied += 1
        default:
            let action = fields.text(.action) ?? "?"
            if let at = summary.faults[index].fired.firstIndex(where: { $0.action == action }) {
                summary.faults[index].fired[at].count += 1
            } else {
                summary.faults[index].fired.append((action: action, count: 1))
            }
            let bucket = bucketIndex(time)
            summary.faults[index].firedBuckets[bucket, default: 0] += 1
            if TCPFactExtractor.endingActions.contains(action), let key = linkKey() { end(key, at: time) }
        }
    }

    // MARK: Traffic

    private mutating func linkKey() -> LinkKey? {
        guard let link = fields.unsigned(.link), let proxy = currentProxy() else { return nil }
        return LinkKey(proxy: proxy, link: link)
    }

    private mutating func currentProxy() -> Int? {
        if let raw = fields.rawString(.proxy) {
            for (index, bytes) in proxyBytes.enumerated() where bytes.count == raw.count && bytes.elementsEqual(raw) {
                return index
            }
        }
        guard let name = fields.text(.proxy) else { return nil }
        return proxyIndex(named: name)
    }

    private mutating func proxyIndex(named name: String) -> Int {
        if let index = summary.proxies.firstIndex(where: { $0.name == name }) { return index }
        let declaration = declared[name]
        var proxy = ProxySummary(name: name, protocolName: declaration?.protocol ?? "tcp", tls: declaration?.tls ?? false)
        proxy.phases = Array(repeating: TrafficCounts(), count: summary.phases.count)
        summary.proxies.append(proxy)
        proxyBytes.append(Array(name.utf8))
        return summary.proxies.count - 1
    }

    private mutating func traffic(_ kind: Event.KindName, at time: Int64) {
        guard let proxy = currentProxy() else { return }
        if kind == .listening {
            summary.proxies[proxy].address = fields.text(.address)
            return
        }
        guard let link = fields.unsigned(.link) else { return }
        let key = LinkKey(proxy: proxy, link: link)
        switch kind {
        case .connectionOpened:
            links[key] = LinkState(openedAt: time)
            count(proxy, at: time) { $0.attempts += 1 }
        case .upstreamConnected:
            links[key]?.connected = true
        case .exchangeStarted:
            guard var state = links[key], !state.outstanding, !state.ended else { return }
            state.outstanding = true
            state.outstandingSince = time
            links[key] = state
            count(proxy, at: time) { $0.requests += 1 }
        case .exchangeAnswered:
            guard let state = links[key], state.outstanding else { return }
            links[key]?.outstanding = false
            let latency = time - state.outstandingSince
            count(proxy, at: state.outstandingSince) { $0.ok += 1; $0.latency.observe(latency) }
        case .exchangeAbandoned:
            guard let state = links[key], state.outstanding else { return }
            links[key]?.outstanding = false
            count(proxy, at: state.outstandingSince) { $0.abandoned += 1 }
        case .requestStarted:
            guard links[key]?.ended == false else { return }
            links[key]?.push(time)
            count(proxy, at: time) { $0.requests += 1 }
        case .requestAnswered:
            guard let sent = links[key]?.pop() else { return }
            let latency = fields.micros(.latency)
            let error = fields.text(.error)
            let byFaultline = fields.bool(.byFaultline) ?? false
            if let error { tally(&summary.proxies[proxy].errors, code: error, byFaultline: byFaultline) }
            count(proxy, at: sent) { counts in
                if error == nil { counts.ok += 1 } else if byFaultline { counts.byFaultline += 1 } else { counts.errors += 1 }
                if let latency { counts.latency.observe(latency) }
            }
        case .requestAbandoned:
            guard let sent = links[key]?.pop() else { return }
            count(proxy, at: sent) { $0.abandoned += 1 }
        case .responseStarted:
            summary.proxies[proxy].protocolName = declared[summary.proxies[proxy].name]?.protocol ?? "http"
            let status = Int64(clamping: fields.unsigned(.status) ?? 0)
            let byFaultline = fields.bool(.byFaultline) ?? false
            if let at = summary.proxies[proxy].statuses.firstIndex(where: { $0.status == status && $0.byFaultline == byFaultline }) {
                summary.proxies[proxy].statuses[at].count += 1
            } else {
                summary.proxies[proxy].statuses.append((status: status, byFaultline: byFaultline, count: 1))
                summary.proxies[proxy].statuses.sort { ($0.status, $0.byFaultline ? 1 : 0) < ($1.status, $1.byFaultline ? 1 : 0) }
            }
        case .tlsHandshakeCompleted, .tlsHandshakeFailed:
            let completed = kind == .tlsHandshakeCompleted
            let profile = fields.text(.profile) ?? "?"
            let detail = completed ? (fields.text(.version) ?? "")
                : fields.text(.alert).map { "alert \($0)" } ?? fields.text(.reason) ?? "?"
            summary.proxies[proxy].tls = true
            if let at = summary.proxies[proxy].handshakes.firstIndex(where: {
                $0.profile == profile && $0.completed == completed && $0.detail == detail
            }) {
                summary.proxies[proxy].handshakes[at].count += 1
            } else {
                summary.proxies[proxy].handshakes.append((profile: profile, completed: completed, detail: detail, count: 1))
            }
            count(proxy, at: time) { if completed { $0.tlsCompleted += 1 } else { $0.tlsFailed += 1 } }
        case .upstreamFailed:
            let reason = fields.text(.reason) ?? "?"
            if let at = summary.proxies[proxy].upstreamFailures.firstIndex(where: { $0.reason == reason }) {
                summary.proxies[proxy].upstreamFailures[at].count += 1
            } else {
                summary.proxies[proxy].upstreamFailures.append((reason: reason, count: 1))
            }
            end(key, at: time)
        case .connectionClosed:
            if fields.bool(.reset) == true { count(proxy, at: time) { $0.resets += 1 } }
            end(key, at: time)
            links.removeValue(forKey: key)
        default:
            break
        }
        if summary.proxies[proxy].protocolName == "tcp", kind == .requestStarted, declared[summary.proxies[proxy].name] == nil {
            summary.proxies[proxy].protocolName = "redis"
        }
    }

    private func tally(_ list: inout [(code: String, byFaultline: Bool, count: Int)], code: String, byFaultline: Bool) {
        if let at = list.firstIndex(where: { $0.code == code && $0.byFaultline == byFaultline }) {
            list[at].count += 1
        } else {
            list.append((code: code, byFaultline: byFaultline, count: 1))
        }
    }

    /// The connection ends: its outstanding request fails, and every unanswered one; one that
    /// never reached the upstream fails as the request its attempt was.
    private mutating func end(_ key: LinkKey, at time: Int64) {
        guard var state = links[key], !state.ended else { return }
        if !state.connected {
            state.ended = true
            if state.outstanding {
                count(key.proxy, at: state.outstandingSince) { $0.failed += 1 }
            } else {
                count(key.proxy, at: state.openedAt) { $0.requests += 1; $0.failed += 1 }
            }
        } else if state.outstanding {
            count(key.proxy, at: state.outstandingSince) { $0.failed += 1 }
        }
        while let sent = state.pop() { count(key.proxy, at: sent) { $0.failed += 1 } }
        state.outstanding = false
        links[key] = state
    }

    // MARK: Counting

    /// Applies `change` to the proxy's counts for the phase playing at `time`, its bucket
    /// and the total. `time` may be past (a request's send time when its answer comes).
    private mutating func count(_ proxy: Int, at time: Int64, _ change: (inout TrafficCounts) -> Void) {
        let bucket = bucketIndex(time)
        summary.proxies[proxy].withSeries(bucket, change)
        change(&summary.proxies[proxy].total)
        if let phase = phaseIndex(at: time), phase < summary.proxies[proxy].phases.count {
            change(&summary.proxies[proxy].phases[phase])
        } else {
            change(&summary.proxies[proxy].outside)
        }
    }

    /// The phase playing at `time`: the current one for now, else the latest that had started
    /// and not yet ended then (phases are few, and most lookups hit the last).
    private func phaseIndex(at time: Int64) -> Int? {
        if let current = currentPhase, summary.phases[current].start <= time { return current }
        var index = summary.phases.count - 1
        while index >= 0 {
            let phase = summary.phases[index]
            if phase.start <= time { return phase.end.map { time < $0 } ?? true ? index : nil }
            index -= 1
        }
        return nil
    }

    /// Requests still unanswered when the recording ends: counted as `unfinished` where they were sent.
    mutating func finish() {
        for (key, var state) in links where !state.ended {
            if state.outstanding { count(key.proxy, at: state.outstandingSince) { $0.unfinished += 1 } }
            while let sent = state.pop() { count(key.proxy, at: sent) { $0.unfinished += 1 } }
        }
        links.removeAll()
    }

    /// The bucket of `time`; buckets double in width first when it lies beyond the last one allowed.
    private mutating func bucketIndex(_ time: Int64) -> Int {
        var index = Int(max(0, time) / summary.bucketWidth)
        while index >= RecordingSummary.maxBuckets {
            coarsen()
            index = Int(max(0, time) / summary.bucketWidth)
        }
        return index
    }

    /// Doubles the bucket width: pairs of buckets become one.
    private mutating func coarsen() {
        summary.bucketWidth *= 2
        for proxy in summary.proxies.indices {
            let old = summary.proxies[proxy].series
            var merged: [TrafficCounts] = []
            merged.reserveCapacity(old.count / 2 + 1)
            for index in stride(from: 0, to: old.count, by: 2) {
                var pair = old[index]
                if index + 1 < old.count { pair.merge(old[index + 1]) }
                merged.append(pair)
            }
            summary.proxies[proxy].series = merged
        }
        for fault in summary.faults.indices {
            var merged: [Int: Int] = [:]
            for (bucket, count) in summary.faults[fault].firedBuckets { merged[bucket / 2, default: 0] += count }
            summary.faults[fault].firedBuckets = merged
        }
    }
}

extension ProxySummary {
    /// Applies `change` to bucket `index`, growing the series to reach it.
    fileprivate mutating func withSeries(_ index: Int, _ change: (inout TrafficCounts) -> Void) {
        if index >= series.count { series.append(contentsOf: repeatElement(TrafficCounts(), count: index + 1 - series.count)) }
        change(&series[index])
    }
}
