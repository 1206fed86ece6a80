import COpenSSL
import CShims
import Foundation

/// The TLS contexts a proxy terminating TLS presents, one per certificate profile: its own
/// (`tls: {profile}`) made before it listens, others made when a `tls.profile` fault needs
/// them (`prepare` first, so no key is generated while clients wait).
final class ServerTLSContexts {
    let settings: ServerTLS
    private let authority: CertificateAuthority
    private var contexts: [CertificateProfile: OpaquePointer] = [:]

    /// Makes the context for `settings.profile`; throws what stops it (the CA cache, OpenSSL).
    init(settings: ServerTLS, authority: CertificateAuthority) throws {
        self.settings = settings
        self.authority = authority
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
    }
}
