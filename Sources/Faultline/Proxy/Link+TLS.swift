import COpenSSL
import CShims
import Glibc

/// The TLS legs of a link: the client's handshake (with the certificate profile and handshake
/// faults it meets) before the upstream is contacted, and the upstream's once connected.
extension Link {
    /// Starts the client's handshake; `proceedToUpstream` follows when it completes.
    func beginClientHandshake() {
        guard let contexts = proxy.serverTLS else { return proceedToUpstream() }
        let faults = handshakeFaults
        var chosen = contexts.settings.profile
        var switchedBy: String?
        for case (let fault, .profile(let profile)) in faults {
            chosen = profile
            switchedBy = fault
        }
        profile = chosen
        if let switchedBy { fired(switchedBy, "presented") }
        guard let context = contexts.context(for: chosen), let session = TLSSession(context: context, fd: client, loop: loop) else {
            log.warning("cannot start a TLS session (profile \(chosen.rawValue)); closing the client")
            return close(resetClient: false, resetUpstream: false)
        }
        SSL_set_accept_state(session.ssl)
        for (fault, action) in faults { apply(action, of: fault, to: session) }
        clientTLS = session
        handshake = TLSHandshake(.client, session: session, fd: client, link: self, timeout: nil)
        handshake?.step()
    }

    /// The handshake faults that apply to this link, ordered by fault name so that two faults
    /// of one kind always resolve the same way.
    private var handshakeFaults: [(fault: String, action: HandshakeFault)] {
        effects.compactMap { name, effect in effect.handshake.map { (name, $0) } }.sorted { $0.fault < $1.fault }
    }

    private func apply(_ action: HandshakeFault, of fault: String, to session: TLSSession) {
        switch action {
        case .alert(let code):
            if case .proceed = session.helloPlan { session.helloPlan = .alert(code) }
        case .delay, .reset, .close:
            session.helloPlan = .hold
        case .maxVersion(let version):
            // Old versions need the security level a server still offering them runs at.
            SSL_set_security_level(session.ssl, 0)
            fl_ssl_set_min_version(session.ssl, TLS1_VERSION)
            fl_ssl_set_max_version(session.ssl, version)
            fired(fault, "limited")
        case .requireClientCert:
            SSL_set_verify(session.ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            fired(fault, "required")
        case .profile:
            break
        }
    }

    /// Starts the upstream's handshake on the connected socket; `startPipes` follows.
    func beginUpstreamHandshake() {
        guard let context = proxy.upstreamTLSContext, let session = context.session(fd: upstream, loop: loop) else {
            return upstreamTLSFailed("cannot start a TLS session")
        }
        upstreamTLS = session
        handshake = TLSHandshake(.upstream, session: session, fd: upstream, link: self,
                                 timeout: proxy.options.connectTimeout)
        handshake?.step()
    }

    /// A handshake finished, or paused at the ClientHello for a fault.
    func handshakeEnded(_ ended: TLSHandshake, _ outcome: TLSHandshake.Outcome) {
        switch (ended.leg, outcome) {
        case (.client, .completed):
            handshake = nil
            let (version, cipher, sni, alpn) = ended.session.parameters
            if proxy.logsLinks { log.debug("TLS handshake done: \(version) \(cipher), profile \(profile?.rawValue ?? "")") }
            proxy.noteHandshake(completed: true)
            proxy.bus.emit(.tlsHandshakeCompleted(profile: profileName, version: version, cipher: cipher, sni: sni, alpn: alpn),
                           proxy: proxy.name, link: id)
            proceedToUpstream()
        case (.client, .clientHelloHeld):
            clientHelloHeld()
        case (.client, .failed(let reason, let alert)):
            clientHandshakeFailed(reason, alert: alert)
        case (.upstream, .completed):
            handshake = nil
            startPipes()
        case (.upstream, .clientHelloHeld):
            upstreamTLSFailed("unexpected handshake state")
        case (.upstream, .failed(let reason, _)):
            upstreamTLSFailed(reason)
        }
    }

    private var profileName: String { profile?.rawValue ?? CertificateProfile.valid.rawValue }

    /// The ClientHello is in and a fault holds the handshake: reset, close, or wait and go on.
    private func clientHelloHeld() {
        let faults = handshakeFaults
        if let (fault, _) = faults.first(where: { $0.action == .reset }) {
            fired(fault, "reset")
            return endClientHandshake("fault \(fault) reset the connection after the ClientHello", reset: true)
        }
        if let (fault, _) = faults.first(where: { $0.action == .close }) {
            fired(fault, "closed")
            return endClientHandshake("fault \(fault) closed the connection after the ClientHello", reset: false)
        }
        let delays = faults.compactMap { if case .delay(let wait) = $0.action { ($0.fault, wait) } else { nil } }
        guard let (fault, delay) = delays.max(by: { $0.1 < $1.1 }) else { return handshake?.step() ?? () }
        fired(fault, "delayed")
        if let code = faults.lazy.compactMap({ if case .alert(let code) = $0.action { code } else { nil } }).first {
            clientTLS?.helloPlan = .alert(code)
        }
        handshake?.hold(for: delay)
    }

    private func clientHandshakeFailed(_ reason: String, alert: String?) {
        // OpenSSL's reason when the ClientHello callback refused: our own alert went out.
        if reason == "callback failed", let (fault, _) = handshakeFaults.first(where: { $0.action.isAlert }) {
            fired(fault, "alert")
            return endClientHandshake("fault \(fault) answered the ClientHello with an alert", reset: false)
        }
        if alert == nil && reason.hasPrefix("not TLS") {
            log.warning("client sent something other than TLS to a TLS port: \(reason); closing it")
        }
        if profile == .valid, let alert, Self.distrustAlerts.contains(alert) { proxy.warnUntrustedCA(alert: alert) }
        endClientHandshake(reason, alert: alert, reset: false)
    }

    /// Alerts a client sends when it does not trust the chain it was shown.
    private static let distrustAlerts: Set<String> = ["unknown_ca", "bad_certificate", "certificate_unknown"]

    private func endClientHandshake(_ reason: String, alert: String? = nil, reset: Bool) {
        if proxy.logsLinks { log.debug("TLS handshake failed (profile \(profileName)): \(reason)") }
        proxy.noteHandshake(completed: false)
        proxy.bus.emit(.tlsHandshakeFailed(profile: profileName, reason: reason, alert: alert), proxy: proxy.name, link: id)
        close(resetClient: reset, resetUpstream: false)
    }

    private func upstreamTLSFailed(_ reason: String) {
        log.warning("TLS to upstream \(proxy.upstream) failed: \(reason); closing the client")
        proxy.noteUpstreamFailure()
        proxy.bus.emit(.upstreamFailed(reason: "TLS: \(reason)"), proxy: proxy.name, link: id)
        close(resetClient: false, resetUpstream: false)
    }
}
