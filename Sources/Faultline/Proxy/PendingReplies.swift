/// One command whose answer the client still waits for, in the order it sent them.
struct PendingReply {
    enum Kind {
        /// The upstream answers it.
        case upstream
        /// faultline answers it with this error (the text after `-`).
        case answer(String)
        /// The client sent garbage: Redis's `-ERR <message>`, whose characters are bytes (the
        /// framer quotes a client's byte as the Latin-1 character of that value, as Redis's `%c`
        /// sends it raw; UTF-8 would turn 0x8F into C2 8F).
        case protocolError(String)
        /// The connection closes here, as the fault called `fault` decided.
        case close(reset: Bool, fault: String)
        /// From its reply on, the upstream's bytes no longer answer commands one to one
        /// (RESP2 SUBSCRIBE, MONITOR, CLIENT REPLY OFF): they pass as they come.
        case stream
    }

    var kind: Kind
    /// When the command reached faultline: latencies count from here.
    let arrived: ContinuousClock.Instant
    /// `redis.delay`: not delivered before this.
    var releaseAt: ContinuousClock.Instant?
    /// The `redis.delay` fault holding it, so removing the fault releases it.
    var delayedBy: String?
    /// HELLO's protocol version: the connection speaks it once the upstream accepts.
    var hello: Int?
    /// AUTH or HELLO: its answer sets the connection up.
    var handshake = false
    /// Whether a request event was sent for it (so its answer gets one too).
    var counted: Bool
    /// How many top-level answers it gets: (UN)SUBSCRIBE one per channel named (one when it
    /// names none), anything else one.
    var answers = 1
    /// Answered by RESP3 pushes (SUBSCRIBE and UNSUBSCRIBE under RESP3), not by replies.
    var byPushes = false

    init(kind: Kind, arrived: ContinuousClock.Instant, counted: Bool) {
        self.kind = kind
        self.arrived = arrived
        self.counted = counted
    }
}

/// The commands of one link waiting for their answers, first in, first out. An array and a
/// moving head: no allocation per command once the link has seen its deepest pipeline.
struct PendingReplies {
    private var entries: [PendingReply] = []
    private var head = 0

    var isEmpty: Bool { head == entries.count }
    var count: Int { entries.count - head }

    var first: PendingReply? { isEmpty ? nil : entries[head] }

    mutating func append(_ entry: PendingReply) { entries.append(entry) }

    @discardableResult
    mutating func removeFirst() -> PendingReply {
        let entry = entries[head]
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4096 && head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return entry
    }

    /// The upstream sent a whole reply (`push`: a RESP3 push): the front entry, when it is
    /// answered by the upstream and this was its last answer, leaves and is returned. A push
    /// answers only an entry answered by pushes (any push counts: pub/sub messages and
    /// invalidations are not told apart from confirmations, so one arriving first only lets
    /// a later answer out early); an error reply answers it whole.
    mutating func complete(push: Bool) -> PendingReply? {
        guard !isEmpty, case .upstream = entries[head].kind, !push || entries[head].byPushes else { return nil }
        if entries[head].answers > 1 && push == entries[head].byPushes {
            entries[head].answers -= 1
            return nil
        }
        return removeFirst()
    }

    /// Changes every entry still waiting.
    mutating func forEach(_ change: (inout PendingReply) -> Void) {
        for index in head..<entries.count { change(&entries[index]) }
    }
}
