import COpenSSL
import CShims
import Glibc

/// The client side of `upstream_tls:`: one context per proxy, one session per link, with the
/// name to send (SNI) and to check set on each session.
final class UpstreamTLSContext {
    let settings: UpstreamTLS
    private let context: OpaquePointer
    /// The upstream's address as text: checked against the certificate's IP SANs when no
    /// `sni` names the server.
    private let upstreamIP: String

    /// Loads the trusted roots (`ca`, or the system's store); throws when they do not load.
    init(settings: UpstreamTLS, upstream: SocketAddress) throws {
        let operation = "setting up TLS to the upstream"
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw CertificateError.openSSL(operation) }
        self.context = context
        self.settings = settings
        upstreamIP = upstream.host
        fl_ssl_ctx_set_stream_mode(context)
        fl_ssl_ctx_set_read_ahead(context)
        fl_ssl_ctx_set_stream_options(context)
        if settings.insecure {
            SSL_CTX_set_security_level(context, 0)
            fl_ssl_ctx_set_min_version(context, TLS1_VERSION)
        }
        SSL_CTX_set_verify(context, settings.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        let loaded = settings.caFile.map { SSL_CTX_load_verify_locations(context, $0, nil) }
            ?? SSL_CTX_set_default_verify_paths(context)
        if loaded != 1 && settings.verify {
            let what = settings.caFile.map { "loading the upstream's CA file \($0)" } ?? "loading the system's CA store"
            throw CertificateError.openSSL(what)
        }
        SSL_CTX_set_info_callback(context, tlsInfoCallback)
    }

    deinit { SSL_CTX_free(context) }

    /// `TLS, verified against ca.pem as redis.internal`, for the start line.
    var description: String {
        guard settings.verify else { return settings.insecure ? "TLS, insecure: nothing checked" : "TLS, not verified" }
        let roots = settings.caFile ?? "the system's roots"
        return "TLS, verified against \(roots) as \(settings.sni ?? upstreamIP)"
    }

    /// A session for the connected upstream socket `fd`, SNI and name check set.
    func session(fd: Int32, loop: EventLoop) -> TLSSession? {
        guard let session = TLSSession(context: context, fd: fd, loop: loop) else { return nil }
        SSL_set_connect_state(session.ssl)
        if let sni = settings.sni {
            fl_ssl_set_sni(session.ssl, sni)
            if settings.verify { SSL_set1_host(session.ssl, sni) }
        } else if settings.verify {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(session.ssl), upstreamIP)
        }
        return session
    }
}
