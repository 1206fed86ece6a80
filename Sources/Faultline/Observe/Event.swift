/// One fact about a run, stamped with monotonic time. Expectations, the live view, logs,
/// metrics and the recorder all read these; none of them reaches into the proxy.
public struct Event: Sendable {
    /// Time since the bus started (monotonic).
    public let time: Duration
    /// The proxy it happened on, if any.
    public let proxy: String?
    /// The connection it happened on, if any (ids count from 1 per proxy).
    public let link: UInt64?
    /// What happened.
    public let kind: Kind

    /// What happened.
    public enum Kind: Sendable, Equatable {
        /// The proxy accepts on `address`.
        case listening(address: String)
        /// A client connection was accepted.
        case connectionOpened
        /// The upstream connect succeeded.
        case upstreamConnected
        /// The client sent bytes while nothing was outstanding on its connection: a request
        /// began (TCP's idea of one; pipelined sends before the answer are the same request).
        case exchangeStarted
        /// The upstream's bytes reached the client while a request was outstanding: answered.
        case exchangeAnswered
        /// The client closed its side while a request was outstanding: it gave up on it (a
        /// reply written later only meets a closed socket).
        case exchangeAbandoned
        /// The client's TLS handshake with the proxy completed under certificate `profile`.
        case tlsHandshakeCompleted(profile: String, version: String, cipher: String, sni: String?, alpn: String?)
        /// The client's TLS handshake with the proxy failed under `profile`: `alert` is the
        /// alert the client sent (`unknown_ca`, `bad_certificate`, …) when it sent one; `reason`
        /// says what happened (OpenSSL's reason, `client closed`, `not TLS`, a fault's action).
        case tlsHandshakeFailed(profile: String, reason: String, alert: String?)
        /// The client sent a request the proxy's protocol parsed (a Redis command). `detail`
        /// names it, credentials left out (`GET session:42`, `AUTH`, `HELLO 3 AUTH`).
        case requestStarted(detail: String)
        /// The oldest unanswered request got its answer, delivered toward the client: `error`
        /// is the error's code (`NOAUTH`, `LOADING`) when the answer is an error; `byFaultline`
        /// when a fault answered instead of the upstream; `latency` from the request's arrival.
        /// `handshake` when the request set the connection up (AUTH, HELLO): its success opens
        /// the way for the client's work rather than answering it.
        case requestAnswered(error: String?, byFaultline: Bool, latency: Duration, handshake: Bool)
        /// An HTTP response's head reached the client: its `status` (after `http.status`),
        /// whether faultline wrote it, and the time from the request's arrival (time to first byte).
        case responseStarted(status: Int, byFaultline: Bool, firstByte: Duration)
        /// The client closed its side with this request unanswered: it gave up on it (HTTP).
        case requestAbandoned
        /// Bytes that break the protocol: from the client (it got the server's error and the
        /// connection closed) or from the upstream (the connection closed).
        case protocolError(fromClient: Bool, message: String)
        /// The upstream refused, was unreachable or timed out; the client was closed.
        case upstreamFailed(reason: String)
        /// Both sockets closed; `reset` when either side got an RST.
        case connectionClosed(bytesUp: UInt64, bytesDown: UInt64, reset: Bool)
        /// A fault became active on the proxy.
        case faultOn(name: String, kind: String)
        /// A fault stopped.
        case faultOff(name: String, kind: String)
        /// A fault was chosen for a connection (first/every/probability said yes).
        case faultApplied(name: String, kind: String)
        /// A fault acted on a connection: `cut`, `reset`, `rejected`, `refused`, `delayed`.
        case faultFired(name: String, kind: String, action: String)
        /// A timeline phase began.
        case phaseStarted(name: String)
        /// A timeline phase ended.
        case phaseEnded(name: String)
        /// The command under test was started.
        case commandStarted(command: String, pid: Int32)
        /// The command under test ended: exited with a status or killed by a signal.
        case commandExited(CommandExit)
        /// A signal ends the run early: `commandGroup` (when a command still runs) gets SIGTERM
        /// now and SIGKILL after `killAfter`.
        case stopping(signal: Int32, commandGroup: Int32?, killAfter: Duration)
        /// An expectation was judged at the end of the run: `status` is `pass`, `fail` or
        /// `error`, `observed` the figure it was judged on (as the verdict prints it).
        case verdict(label: String, expectation: String, status: String, observed: String)
        /// A recording's file stopped growing: `capture.pcapng` reached `--capture-limit`, or a
        /// write failed (`No space left on device`); the proxies carry on.
        case recordingStopped(file: String, reason: String)
    }
}

/// Delivers events to subscribers on the loop thread, in order.
public final class EventBus {
    private let start = ContinuousClock.now
    private var subscribers: [(Event) -> Void] = []
    /// The recording's capture (`--record`): every proxy on this bus captures its new links.
    var capture: Capture?

    /// Creates a bus; its clock starts now.
    public init() {}

    /// Calls `handler` for every event from now on.
    public func subscribe(_ handler: @escaping (Event) -> Void) {
        subscribers.append(handler)
    }

    /// The bus's clock now, on the scale of `Event.time`.
    public var now: Duration { ContinuousClock.now - start }

    /// Whether anyone listens: emitters skip building events otherwise.
    public var isObserved: Bool { !subscribers.isEmpty }

    /// Stamps and delivers one event.
    public func emit(_ kind: Event.Kind, proxy: String? = nil, link: UInt64? = nil) {
        guard !subscribers.isEmpty else { return }
        let event = Event(time: ContinuousClock.now - start, proxy: proxy, link: link, kind: kind)
        subscribers.forEach { $0(event) }
    }
}
