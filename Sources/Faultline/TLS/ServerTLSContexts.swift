import COpenSSL
import CShims
import Foundation

/// The TLS contexts a proxy terminating TLS presents, one per certificate profile: its own
/// (`tls: {profile}`) made before it listens, others made when a `tls.profile` fault needs
/// them (`prepare` first, so no key is generated while clients wait).
final class ServerTLSContexts {
    let settings: ServerTLS
    private let authority: CertificateAuthority
    /// The application protocol offered in ALPN (`http/1.1` on an HTTP proxy), or nil.
    private let alpn: String?
    private var contexts: [CertificateProfile: OpaquePointer] = [:]

    /// Makes the context for `settings.profile`; throws what stops it (the CA cache, OpenSSL).
    init(settings: ServerTLS, authority: CertificateAuthority, alpn: String? = nil) throws {
        self.settings = settings
        self.authority = authority
        self.alpn = alpn
        try prepare(settings.profile)
    }

    deinit { contexts.values.forEach { SSL_CTX_free($0) } }

    /// `TLS, profile valid for localhost, CA .faultline/ca (created now)`, for the start line.
    var description: String {
        "TLS, profile \(settings.profile.rawValue) for \(settings.hosts.joined(separator: ", ")), \(authorityDescription)"
    }

    /// Where the CA is, absolute, and whether this process made it.
    var authorityDescription: String {
        let directory = authority.directory.hasPrefix("/") ? authority.directory
            : FileManager.default.currentDirectoryPath + "/" + authority.directory
        return "CA \(directory)/root.pem\(authority.created ? " (created now)" : "")"
    }

    /// Makes `profile`'s context now unless it exists.
    func prepare(_ profile: CertificateProfile) throws {
        guard contexts[profile] == nil else { return }
        contexts[profile] = try makeContext(profile)
    }

    /// `profile`'s context, made by `prepare` (the proxy prepares every profile a fault can
    /// switch to before that fault is active); never made here, on a client's time.
    func context(for profile: CertificateProfile) -> OpaquePointer? { contexts[profile] }

    private func makeContext(_ profile: CertificateProfile) throws -> OpaquePointer {
        let operation = "setting up TLS with profile \(profile.rawValue)"
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw CertificateError.openSSL(operation) }
        do {
            try configure(context, profile, operation)
            return context
        } catch {
            SSL_CTX_free(context)
            throw error
        }
    }

    private func configure(_ context: OpaquePointer, _ profile: CertificateProfile, _ operation: String) throws {
        fl_ssl_ctx_set_stream_mode(context)
        fl_ssl_ctx_set_read_ahead(context)
        fl_ssl_ctx_set_stream_options(context)
        // A server with a SHA-1 or RSA-1024 certificate runs at a security level that loads
        // it; OpenSSL's default (2) would refuse to, and the client would never see the defect.
        if profile == .weakSignature || profile == .weakKey { SSL_CTX_set_security_level(context, 0) }
        var tls = settings
        tls.profile = profile
        let identity = try authority.identity(for: tls)
        guard SSL_CTX_use_certificate(context, identity.leaf.pointer) == 1 else { throw CertificateError.openSSL(operation) }
        for certificate in identity.chain {
            guard fl_ssl_ctx_add1_chain_cert(context, certificate.pointer) == 1 else { throw CertificateError.openSSL(operation) }
        }
        guard SSL_CTX_use_PrivateKey(context, identity.key.pointer) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw CertificateError.openSSL(operation)
        }
        SSL_CTX_set_client_hello_cb(context, tlsClientHelloCallback, nil)
        SSL_CTX_set_info_callback(context, tlsInfoCallback)
        if alpn == "http/1.1" { SSL_CTX_set_alpn_select_cb(context, alpnSelectHTTP11, nil) }
    }
}

/// OpenSSL's ALPN callback on an HTTP proxy: `http/1.1` when the client offers it; otherwise
/// no ALPN (a client offering only h2 goes on without, as it would with an HTTP/1.1-only server).
func alpnSelectHTTP11(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                      _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                      _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let offered, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let wanted = Array("http/1.1".utf8)
    var index = 0
    while index < Int(offeredLength) {
        let length = Int(offered[index])
        let start = index + 1
        guard start + length <= Int(offeredLength) else { break }
        if length == wanted.count, (0..<length).allSatisfy({ offered[start + $0] == wanted[$0] }) {
            out.pointee = offered + start
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_NOACK
}
