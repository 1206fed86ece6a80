/// What faults decided for one request's response, made only for requests a fault acts on
/// (most requests have none, so steady traffic allocates nothing per request).
final class HTTPResponsePlan {
    /// faultline's own response, in the request's place; `closeAfter`: the connection ends
    /// after it (the client asked to close, or its body was never read).
    var answer: [UInt8]?
    var answerStatus = 0
    var closeAfter = false
    /// The connection closes at this request (`http.abort` at the request): RST when `reset`.
    var abort: (reset: Bool, fault: String)?
    /// `http.delay before: response`: the fault holding it (its removal releases it).
    var delayedBy: String?
    /// `http.drip`: body bytes per second.
    var drip: (rate: Int, fault: String)?
    /// `http.truncate` / `http.abort after:`: the connection ends after this many body bytes.
    var cut: (after: Int, reset: Bool, truncate: Bool, fault: String)?
    /// `http.status`: the status the client sees instead of the upstream's.
    var status: (code: Int, fault: String)?
    /// `http.ws_close`: after a 101, the close frame's time, code and reason.
    var wsClose: (after: Duration, code: Int, reason: String, fault: String)?

    /// Whether anything acts on the upstream's response (not only on the request).
    var shapesResponse: Bool { drip != nil || cut != nil || status != nil || wsClose != nil }
}

/// One request whose response the client still waits for, in the order it sent them.
struct HTTPPending {
    /// When the request's head reached faultline (`Monotonic` ns; 0 when nobody needs it).
    var arrived: UInt64
    /// `http.delay before: response`: its response is not delivered before this; 0: not held.
    var releaseAt: UInt64 = 0
    /// Whether a request event was sent for it.
    var counted: Bool
    /// HEAD: its response has no body; CONNECT: a 2xx makes a tunnel.
    var isHEAD = false
    var isCONNECT = false
    var plan: HTTPResponsePlan?

    init(arrived: UInt64, counted: Bool) {
        self.arrived = arrived
        self.counted = counted
    }

    /// faultline has to act when it comes up: its own answer, a close, a held or shaped response.
    var isSpecial: Bool { releaseAt != 0 || plan != nil }
}

/// The requests of one link waiting for their responses, first in, first out: an array and a
/// moving head, so no allocation per request once the link has seen its deepest pipeline.
struct HTTPPendingQueue {
    private var entries: [HTTPPending] = []
    private var head = 0
    /// Entries faultline has to act on: while there is none, responses pass as they are read.
    private(set) var specials = 0

    var isEmpty: Bool { head == entries.count }
    var count: Int { entries.count - head }
    var first: HTTPPending? { isEmpty ? nil : entries[head] }
    var frontReleaseAt: UInt64 { isEmpty ? 0 : entries[head].releaseAt }
    var frontPlan: HTTPResponsePlan? { isEmpty ? nil : entries[head].plan }

    mutating func append(_ entry: HTTPPending) {
        if entry.isSpecial { specials += 1 }
        entries.append(entry)
    }

    @discardableResult
    mutating func removeFirst() -> HTTPPending {
        let entry = entries[head]
        if entry.isSpecial { specials -= 1 }
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return entry
    }

    /// The front entry's response is no longer counted (its failure was already told).
    mutating func uncountAll(where unanswered: (HTTPPending) -> Bool) -> [HTTPPending] {
        var told: [HTTPPending] = []
        for index in head..<entries.count where entries[index].counted && unanswered(entries[index]) {
            told.append(entries[index])
            entries[index].counted = false
        }
        return told
    }

    /// The newest entry is answered by faultline after all (its request broke mid-body, after
    /// its head went on): `plan` takes the place of the upstream's response.
    mutating func replaceLast(with plan: HTTPResponsePlan) {
        guard !isEmpty else { return }
        if !entries[entries.count - 1].isSpecial { specials += 1 }
        entries[entries.count - 1].plan = plan
        entries[entries.count - 1].releaseAt = 0
    }

    /// Calls `body` with the plan of every waiting request that has one.
    func forEachPlan(_ body: (HTTPResponsePlan) -> Void) {
        for index in head..<entries.count { if let plan = entries[index].plan { body(plan) } }
    }

    /// Held responses are due now: all of them, or those `fault` holds.
    mutating func release(delayedBy fault: String? = nil) {
        for index in head..<entries.count where entries[index].releaseAt != 0 {
            guard fault == nil || entries[index].plan?.delayedBy == fault else { continue }
            let wasSpecial = entries[index].isSpecial
            entries[index].releaseAt = 0
            if wasSpecial && !entries[index].isSpecial { specials -= 1 }
        }
    }
}
