/// One command whose answer the client still waits for, in the order it sent them. Every
/// field is a plain value, so entries copy inline (the queue holds one per pipelined
/// command); texts live beside the queue (`PendingReplies.note`).
struct PendingReply {
    enum Kind: UInt8 {
        /// The upstream answers it.
        case upstream
        /// faultline answers it with an error: the entry's note (the text after `-`).
        case answer
        /// The client sent garbage: Redis's `-ERR <note>`, whose characters are bytes (the
        /// framer quotes a client's byte as the Latin-1 character of that value, as Redis's `%c`
        /// sends it raw; UTF-8 would turn 0x8F into C2 8F).
        case protocolError
        /// The connection closes here with a FIN (`closeReset`: an RST), as the fault named by
        /// the note decided (no note: a protocol error's close).
        case close, closeReset
        /// From its reply on, the upstream's bytes no longer answer commands one to one
        /// (RESP2 SUBSCRIBE, MONITOR, CLIENT REPLY OFF): they pass as they come.
        case stream
    }

    var kind: Kind
    /// When the command reached faultline (`Monotonic` ns; 0 when nobody needs it):
    /// latencies count from here.
    var arrived: UInt64
    /// `redis.delay`: not delivered before this (`Monotonic` ns); 0: not held.
    var releaseAt: UInt64 = 0
    /// Index of the entry's text in `PendingReplies`' notes; -1: none.
    var note: Int32 = -1
    /// Index of the name of the `redis.delay` fault holding it (removing the fault releases
    /// it); -1: none.
    var delayedBy: Int32 = -1
    /// HELLO's protocol version: the connection speaks it once the upstream accepts; 0: none.
    var hello: Int8 = 0
    /// AUTH or HELLO: its answer sets the connection up.
    var handshake = false
    /// Whether a request event was sent for it (so its answer gets one too).
    var counted: Bool
    /// Answered by RESP3 pushes (SUBSCRIBE and UNSUBSCRIBE under RESP3), not by replies.
    var byPushes = false
    /// How many top-level answers it gets: (UN)SUBSCRIBE one per channel named (one when it
    /// names none), anything else one.
    var answers: Int32 = 1

    init(kind: Kind, arrived: UInt64, counted: Bool) {
        self.kind = kind
        self.arrived = arrived
        self.counted = counted
    }

    /// faultline has to act when it comes up: an answer of its own, a close, a held reply.
    var isSpecial: Bool { releaseAt != 0 || (kind != .upstream && kind != .stream) }

    /// Whether it waits for its release time at `now`.
    func isHeld(at now: UInt64) -> Bool { releaseAt != 0 && releaseAt > now }
}

/// The commands of one link waiting for their answers, first in, first out. An array and a
/// moving head: no allocation per command once the link has seen its deepest pipeline.
struct PendingReplies {
    private var entries: [PendingReply] = []
    private var head = 0
    /// Texts entries refer to (answers, fault names); emptied with the queue.
    private var notes: [String] = []
    /// Entries that are more than a reply to pass on (faultline's answers, closes, held
    /// replies): while there is none, replies can be written on as they are read.
    private(set) var specials = 0

    var isEmpty: Bool { head == entries.count }
    var count: Int { entries.count - head }

    var first: PendingReply? { isEmpty ? nil : entries[head] }

    /// The front entry's kind and release time without copying it.
    var frontKind: PendingReply.Kind? { isEmpty ? nil : entries[head].kind }
    var frontReleaseAt: UInt64 { isEmpty ? 0 : entries[head].releaseAt }

    mutating func append(_ entry: PendingReply) {
        if entry.isSpecial { specials += 1 }
        entries.append(entry)
    }

    /// Keeps `text` beside the queue; the index goes in an entry's `note` or `delayedBy`.
    mutating func keep(_ text: String) -> Int32 {
        notes.append(text)
        return Int32(notes.count - 1)
    }

    /// The text at `index` (empty for -1).
    func note(_ index: Int32) -> String { index >= 0 && Int(index) < notes.count ? notes[Int(index)] : "" }

    @discardableResult
    mutating func removeFirst() -> PendingReply {
        let entry = entries[head]
        if entry.isSpecial { specials -= 1 }
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            if !notes.isEmpty { notes.removeAll(keepingCapacity: true) }
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
        guard !isEmpty, entries[head].kind == .upstream, !push || entries[head].byPushes else { return nil }
        if entries[head].answers > 1 && push == entries[head].byPushes {
            entries[head].answers -= 1
            return nil
        }
        return removeFirst()
    }

    /// Every held reply is due now.
    mutating func releaseAll() {
        for index in head..<entries.count where entries[index].releaseAt != 0 {
            entries[index].releaseAt = 0
            if !entries[index].isSpecial { specials -= 1 }
        }
    }

    /// Replies the fault named `fault` delays are due now.
    mutating func releaseAll(delayedBy fault: String) {
        for index in head..<entries.count where entries[index].delayedBy >= 0 && note(entries[index].delayedBy) == fault {
            if entries[index].isSpecial { specials -= 1 }
            entries[index].releaseAt = 0
            if entries[index].isSpecial { specials += 1 }
        }
    }
}
