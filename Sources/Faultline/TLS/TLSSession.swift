import COpenSSL
import CShims
import Glibc

/// One TLS connection over a non-blocking socket: an OpenSSL `SSL` reading and writing the
/// descriptor itself. Pipes call `read`/`write` where they would call read(2)/write(2); the
/// results use the same convention (count, 0 at the end, -errno), so the data path has one
/// shape for plain and TLS ends.
final class TLSSession {
    let ssl: OpaquePointer
    /// The last alert the peer sent (its reason for aborting a handshake), if any.
    fileprivate(set) var receivedAlert: UInt8?
    /// A whole ClientHello arrived (server side): a client that leaves before it never began
    /// a handshake (a port probe), which says nothing about its certificate checks.
    fileprivate(set) var clientHelloSeen = false
    /// What the ClientHello callback does on a server-side session.
    enum HelloPlan {
        case proceed
        /// Refuse the handshake with this alert (`tls.alert`).
        case alert(UInt8)
        /// Suspend the handshake once the ClientHello is read; the link then delays, resets or
        /// closes (handshake faults), and a resumed handshake proceeds.
        case hold
    }

    /// Consulted once per ClientHello; see `HelloPlan`.
    var helloPlan = HelloPlan.proceed
    /// Set once the peer's stream ended (0) or the session failed (-errno): reads are not
    /// passed to OpenSSL again and get the same answer; a failure stops writes too (both
    /// pipes of a link share the session).
    private var ended: Int?
    /// OpenSSL's reason for the failure that ended the stream, for logs.
    private(set) var failureReason: String?
    private let live: LiveToken

    /// A session for `fd` from `context`; nil when OpenSSL cannot make one (out of memory).
    init?(context: OpaquePointer, fd: Int32, loop: EventLoop) {
        guard let ssl = SSL_new(context) else { return nil }
        self.ssl = ssl
        live = LiveToken(.tls, on: loop)
        SSL_set_fd(ssl, fd)
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { SSL_free(ssl) }

    /// The session owning `ssl`, for OpenSSL's callbacks.
    static func owning(_ ssl: OpaquePointer?) -> TLSSession? {
        guard let ssl, let pointer = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSSession>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// A read would return at once without the socket becoming readable: OpenSSL holds bytes
    /// (decrypted or not), or the stream's end was met behind bytes already returned. Socket
    /// readiness announces neither, so a reader that stopped early must come back itself.
    var readsWithoutReadiness: Bool { ended != nil || SSL_has_pending(ssl) == 1 }

    /// Reads up to `count` plaintext bytes: the count, 0 at the end of the stream (close_notify
    /// or the peer's FIN), -EAGAIN when nothing is ready, or -errno (EPROTO for a TLS error).
    func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        if let ended { return ended }
        let got = SSL_read(ssl, buffer, Int32(clamping: count))
        return got > 0 ? Int(got) : outcome(of: got)
    }

    /// Writes up to `count` plaintext bytes; same results as `read` (never 0). The peer's
    /// close_notify or FIN ends its direction only: writing on goes on (a half-close), and
    /// only an error stops both.
    func write(_ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        if let ended, ended != 0 { return ended }
        let sent = SSL_write(ssl, buffer, Int32(clamping: count))
        return sent > 0 ? Int(sent) : outcome(of: sent)
    }

    /// Sends close_notify, best effort (a full socket drops it; the FIN follows anyway).
    func closeNotify() {
        guard ended == nil || ended == 0 else { return }
        SSL_shutdown(ssl)
        ERR_clear_error()
    }

    private func outcome(of result: Int32) -> Int {
        let error = SSL_get_error(ssl, result)
        let saved = errno
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return -Int(EAGAIN)
        case SSL_ERROR_ZERO_RETURN:
            ended = 0
        case SSL_ERROR_SYSCALL:
            ended = saved == 0 ? 0 : -Int(saved)
            ERR_clear_error()
        default:
            failureReason = OpenSSLErrors.drain().first ?? "TLS error \(error)"
            ended = -Int(EPROTO)
        }
        return ended ?? 0
    }

    /// Protocol version (`TLSv1.3`), cipher, SNI and ALPN of a completed handshake.
    var parameters: (version: String, cipher: String, sni: String?, alpn: String?) {
        let version = String(cString: SSL_get_version(ssl))
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? ""
        let sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        let alpn = data.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) }
        return (version, cipher, sni, alpn)
    }
}

/// Reads OpenSSL's per-thread error queue.
enum OpenSSLErrors {
    /// The reasons queued since the last drain (`certificate verify failed`), oldest first;
    /// the queue is empty afterwards, so a later failure never reports these.
    static func drain() -> [String] {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            if let text = ERR_reason_error_string(code) {
                reasons.append(String(cString: text))
            } else {
                reasons.append("OpenSSL error \(code)")
            }
        }
        return reasons
    }
}

/// OpenSSL's ClientHello callback: carries out the session's `helloPlan`.
func tlsClientHelloCallback(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?,
                            _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let session = TLSSession.owning(ssl) else { return SSL_CLIENT_HELLO_SUCCESS }
    session.clientHelloSeen = true
    switch session.helloPlan {
    case .proceed:
        return SSL_CLIENT_HELLO_SUCCESS
    case .alert(let code):
        alert?.pointee = Int32(code)
        return SSL_CLIENT_HELLO_ERROR
    case .hold:
        session.helloPlan = .proceed
        return SSL_CLIENT_HELLO_RETRY
    }
}

/// OpenSSL's info callback: remembers the alert a peer sent, which is why it gave up.
func tlsInfoCallback(_ ssl: OpaquePointer?, _ where_: Int32, _ value: Int32) {
    guard where_ & fl_ssl_cb_read_alert() == fl_ssl_cb_read_alert() else { return }
    TLSSession.owning(ssl)?.receivedAlert = UInt8(truncatingIfNeeded: value & 0xff)
}
