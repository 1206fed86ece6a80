/// What expectations are judged on: client behaviour distilled from events. Expectations never
/// read events; a `FactExtractor` turns events into facts, so a protocol (Redis commands, HTTP
/// requests) adds request-level facts by providing an extractor, and no expectation changes.
public struct Fact: Sendable, Equatable {
    /// When it happened (the event's time).
    public let time: Duration
    /// The proxy it happened on.
    public let proxy: String?
    /// The connection it belongs to, when known.
    public let link: UInt64?
    /// What happened.
    public let kind: Kind

    /// What happened.
    public enum Kind: Sendable, Equatable {
        /// The client tried to connect.
        case attempt
        /// The client sent a request. `detail` names it (`GET /api/v2/users`, `AUTH`) for
        /// protocols that parse requests; nil when the request is opaque (a whole TCP
        /// connection), which `no_request` then has to treat as possibly any request.
        case request(detail: String?)
        /// A request got an answer.
        case success
        /// A request failed; `reason` says how, for messages.
        case failure(reason: String)
    }

    /// Creates a fact.
    public init(time: Duration, proxy: String?, link: UInt64? = nil, kind: Kind) {
        self.time = time
        self.proxy = proxy
        self.link = link
        self.kind = kind
    }

    /// The client did something: tried to connect or sent a request.
    var isTraffic: Bool {
        switch kind {
        case .attempt, .request: true
        case .success, .failure: false
        }
    }

    var isAttempt: Bool { kind == .attempt }
    var isRequest: Bool { if case .request = kind { true } else { false } }
    var isSuccess: Bool { kind == .success }
    var isFailure: Bool { if case .failure = kind { true } else { false } }
}

/// Turns events into facts, keeping whatever per-connection state it needs. The evaluator
/// feeds it every event in order, phase events included.
public protocol FactExtractor {
    /// The facts `event` establishes (often none).
    mutating func facts(from event: Event) -> [Fact]
}
