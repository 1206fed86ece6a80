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
        /// The client's TLS handshake with the proxy, under certificate `profile`: `completed`,
        /// or failed with the `alert` the client sent (nil when it sent none) and `reason`.
        /// `fault` names the `tls.*` fault a failure is put down to (see `TLSFactExtractor`):
        /// then the client did not reject the certificate. Not traffic (the connection's
        /// attempt counts already): checks other than `client_rejects_certificate` never see it.
        case tlsHandshake(profile: String, completed: Bool, alert: String?, reason: String?, fault: String?)
        /// The client's first application data on a connection whose handshake completed under
        /// `profile`: it went on after meeting that certificate. The same data's `request`
        /// fact counts the request; this one only marks the connection.
        case tlsData(profile: String)
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
        case .success, .failure, .tlsHandshake, .tlsData: false
        }
    }

    /// A fact about TLS on the connection (a handshake, data after one), kept apart from the
    /// traffic facts the counting and timing checks judge.
    var isTLS: Bool {
        switch kind {
        case .tlsHandshake, .tlsData: true
        case .attempt, .request, .success, .failure: false
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
