import CEvent
import COpenSSL
import Glibc

/// Drives one TLS handshake on a non-blocking socket from the loop: SSL_do_handshake, then a
/// wait for whichever readiness OpenSSL asked for, until it completes or fails. The link
/// that owns it hears the outcome through `TLSHandshake.Owner`.
final class TLSHandshake {
    /// Which of the link's sockets it runs on.
    enum Leg { case client, upstream }

    /// How a handshake ended.
    enum Outcome {
        case completed
        /// The ClientHello arrived and a fault asked to hold it (`TLSSession.holdClientHello`);
        /// `resume()` continues.
        case clientHelloHeld
        /// `reason` for logs and events; `alert` the alert the peer sent, if it sent one.
        case failed(reason: String, alert: String?)
    }

    let leg: Leg
    let session: TLSSession
    private unowned(unsafe) let link: Link
    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private let timeout: Duration?
    /// While a fault holds the handshake: the wait, and a watch for the peer leaving meanwhile
    /// (so a client giving up is seen when it gives up, not when the hold ends).
    private var holdTimer: Timer?
    private var leaveWatch: OpaquePointer?
    private let fd: Int32
    private let live: LiveToken

    /// A handshake over `session`'s socket `fd`; `timeout` bounds each wait (nil: none).
    init(_ leg: Leg, session: TLSSession, fd: Int32, link: Link, timeout: Duration?) {
        self.leg = leg
        self.session = session
        self.link = link
        self.timeout = timeout
        self.fd = fd
        live = LiveToken(.handshake, on: link.loop)
        let me = Unmanaged.passUnretained(self).toOpaque()
        // Persistent: a handshake waits for reads again and again, and re-adding an event that
        // is still added costs no epoll_ctl (a one-shot one would cost two per step).
        readEvent = event_new(link.loop.base, fd, Int16(EV_READ | EV_PERSIST), handshakeReady, me)
        writeEvent = event_new(link.loop.base, fd, Int16(EV_WRITE), handshakeReady, me)
    }

    deinit {
        event_free(readEvent)
        event_free(writeEvent)
        if let leaveWatch { event_free(leaveWatch) }
    }

    /// Holds the handshake for `delay`, then goes on; ends it early if the peer leaves.
    func hold(for delay: Duration) {
        event_del(readEvent)  // nothing may step the handshake on before the hold ends
        holdTimer = Timer(loop: link.loop) { [unowned self] in
            if let leaveWatch { event_del(leaveWatch) }
            step()
        }
        holdTimer?.schedule(after: delay)
        if leaveWatch == nil {
            let me = Unmanaged.passUnretained(self).toOpaque()
            leaveWatch = event_new(link.loop.base, fd, Int16(EV_CLOSED), handshakePeerLeft, me)
        }
        event_add(leaveWatch, nil)
    }

    fileprivate func peerLeft() {
        holdTimer?.cancel()
        let peer = leg == .client ? "the client" : "the upstream"
        link.handshakeEnded(self, .failed(reason: "\(peer) closed the connection during the handshake", alert: nil))
    }

    /// Runs the handshake as far as the socket allows now; called again on readiness.
    func step() {
        let result = SSL_do_handshake(session.ssl)
        if result == 1 { return link.handshakeEnded(self, .completed) }
        let error = SSL_get_error(session.ssl, result)
        let saved = errno
        switch error {
        case SSL_ERROR_WANT_READ:
            wait(readEvent)
        case SSL_ERROR_WANT_WRITE:
            wait(writeEvent)
        case SSL_ERROR_WANT_CLIENT_HELLO_CB:
            link.handshakeEnded(self, .clientHelloHeld)
        default:
            link.handshakeEnded(self, .failed(reason: failureReason(error, errno: saved), alert: peerAlert))
        }
    }

    private var peerAlert: String? { session.receivedAlert.map(TLSAlert.name(of:)) }

    /// Why the handshake failed, as a person reading the log wants it: the peer's alert, the
    /// certificate check's verdict, the peer leaving, or what OpenSSL says.
    private func failureReason(_ error: Int32, errno saved: Int32) -> String {
        let reasons = OpenSSLErrors.drain()
        if let alert = peerAlert { return "the \(leg == .client ? "client" : "upstream") sent alert \(alert)" }
        let verify = SSL_get_verify_result(session.ssl)
        if leg == .upstream && verify != X509_V_OK {
            let text = String(cString: X509_verify_cert_error_string(verify))
            return "certificate verify failed: \(text) (verify code \(verify))"
        }
        if error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN || reasons.contains("unexpected eof while reading") {
            let peer = leg == .client ? "the client" : "the upstream"
            if leg == .client && !session.clientHelloSeen {
                let how = saved == ECONNRESET ? "reset the connection" : "closed the connection"
                return "\(Self.noClientHello): the client \(how) before its ClientHello was complete"
            }
            if saved == ECONNRESET { return "\(peer) reset the connection during the handshake" }
            return saved == 0 || saved == EPIPE ? "\(peer) closed the connection during the handshake"
                                                : "\(peer): \(Socket.describe(saved))"
        }
        if let reason = reasons.first, Self.notTLS.contains(reason) { return "not TLS (\(reason))" }
        return reasons.first ?? "TLS error \(error)"
    }

    /// How a failure's reason begins when the client left before a whole ClientHello (a port
    /// probe, a health check): no handshake was attempted.
    static let noClientHello = "no ClientHello"

    /// OpenSSL's reasons when the first bytes are no TLS record at all (plain HTTP, RESP…).
    private static let notTLS: Set<String> = [
        "wrong version number", "http request", "https proxy request", "unknown protocol", "packet length too long",
    ]

    private func wait(_ event: OpaquePointer?) {
        if var limit = timeout?.timeval {
            event_add(event, &limit)
        } else {
            event_add(event, nil)
        }
    }

    fileprivate func ready(timedOut: Bool) {
        guard timedOut else { return step() }
        event_del(readEvent)
        event_del(writeEvent)
        link.handshakeEnded(self, .failed(reason: "no answer within \(DurationText.format(timeout ?? .zero))", alert: nil))
    }
}

private func handshakeReady(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<TLSHandshake>.fromOpaque(arg).takeUnretainedValue().ready(timedOut: what & Int16(EV_TIMEOUT) != 0)
}

private func handshakePeerLeft(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<TLSHandshake>.fromOpaque(arg).takeUnretainedValue().peerLeft()
}
