/// Facts about TLS toward the client, for `client_rejects_certificate`: each handshake with
/// the profile the client met and how it ended, and the first data a client sent after
/// completing one. Any extractor whose proxies may terminate TLS runs one beside its own
/// (`TCPFactExtractor` does); it adds no attempts, requests, successes or failures.
///
/// - `tlsHandshakeCompleted` → `tlsHandshake(completed: true)`;
/// - `tlsHandshakeFailed` → `tlsHandshake(completed: false)` with the client's alert and the
///   reason, and the name of the `tls.*` fault the failure is put down to: one that acted on
///   the connection first (`reset`, `closed`, `alert`: the proxy ended it; `limited`,
///   `required`: the version or the demand failed it, not the certificate), or one that only
///   held the handshake (`delayed`) when the client then left without an alert — it may have
///   timed out before it saw the certificate. A client that sends an alert after a delay
///   judged the certificate: no fault is named.
/// - the first `exchangeStarted` after a completed handshake → `tlsData`.
public struct TLSFactExtractor: FactExtractor {
    private struct Key: Hashable {
        let proxy: String?
        let link: UInt64
    }

    private struct Connection {
        /// The profile a completed handshake was under, until the connection's first data.
        var awaitingData: String?
        /// The last `tls.*` fault that did more than delay the handshake.
        var fault: String?
        /// The last `tls.*` fault that delayed it.
        var delay: String?
    }

    private var connections: [Key: Connection] = [:]

    /// Creates an extractor with no connections seen.
    public init() {}

    public mutating func facts(from event: Event) -> [Fact] {
        guard let link = event.link else { return [] }
        let key = Key(proxy: event.proxy, link: link)
        func fact(_ kind: Fact.Kind) -> Fact { Fact(time: event.time, proxy: event.proxy, link: link, kind: kind) }

        switch event.kind {
        case .tlsHandshakeCompleted(let profile, _, _, _, _):
            connections[key, default: Connection()].awaitingData = profile
            return [fact(.tlsHandshake(profile: profile, completed: true, alert: nil, reason: nil, fault: nil))]
        case .tlsHandshakeFailed(let profile, let reason, let alert):
            let fault = connections[key]?.fault ?? (alert == nil ? connections[key]?.delay : nil)
            return [fact(.tlsHandshake(profile: profile, completed: false, alert: alert, reason: reason, fault: fault))]
        case .faultFired(let name, let kind, let action) where kind.hasPrefix("tls.") && action != "presented":
            if action == "delayed" {
                connections[key, default: Connection()].delay = name
            } else {
                connections[key, default: Connection()].fault = name
            }
            return []
        case .exchangeStarted:
            guard let profile = connections[key]?.awaitingData else { return [] }
            connections[key]?.awaitingData = nil
            return [fact(.tlsData(profile: profile))]
        case .connectionClosed:
            connections.removeValue(forKey: key)
            return []
        default:
            return []
        }
    }
}
