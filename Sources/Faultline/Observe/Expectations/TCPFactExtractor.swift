/// Facts as the TCP layer sees them: exchanges on a connection, so a pooled client that keeps
/// one connection is judged by its requests, not by its connections.
///
/// - attempt: a `connectionOpened`;
/// - request: an `exchangeStarted` (the client sent while nothing was outstanding);
/// - success: an `exchangeAnswered` (the upstream's bytes reached the client);
/// - failure: the request outstanding when the connection was cut, reset or closed (by a fault,
///   by either peer, or by the client giving up: its FIN while a request is outstanding).
///
/// A connection that ends before its upstream connected (refused, rejected by `tcp.down`, the
/// upstream unreachable, the client leaving a held connect) never carried an exchange; the
/// client's attempt was its request, so it counts as one request that failed (on a protocol
/// proxy a named one, `(connect)`: no command of it reached anyone). That holds for a
/// TLS handshake the client aborted, too: the connection ends before the upstream connected.
///
/// On protocol proxies (`protocol: redis`, `http`) the proxy parses requests and their answers:
/// - request: a `requestStarted` (a command, named: `GET session:42`);
/// - success / failure: its `requestAnswered` (a failure when the answer is an error, the error's
///   code in the reason), in order; an accepted AUTH or HELLO is neither (it sets the
///   connection up), a rejected one is a failure;
/// - failure: each request still unanswered when the connection is cut or closes ("no reply"),
///   or when the client closes its side (`requestAbandoned`, HTTP: counted at its abandonment).
///
/// Handshakes and data after them (on proxies with `tls:`) come from a `TLSFactExtractor`
/// run beside; they add nothing to the counts above.
public struct TCPFactExtractor: FactExtractor {
    /// Fault actions that end a connection (as opposed to `delayed`, which only holds it).
    static let endingActions: Set<String> = ["cut", "reset", "rejected", "refused", "closed"]

    private struct Key: Hashable {
        let proxy: String?
        let link: UInt64
    }

    private struct Connection {
        var connected = false
        var outstanding = false
        /// Parsed requests not answered yet (protocol proxies).
        var unanswered = 0
        /// Ended by a failure already; later ending events of the same connection add nothing.
        var ended = false
    }

    private var open: [Key: Connection] = [:]
    private var tls = TLSFactExtractor()
    /// Proxies that speak a protocol: there every request is named, so a connection that ends
    /// before reaching the upstream is the named request `(connect)`, not an opaque exchange.
    private let protocolProxies: Set<String>

    /// The detail of a connection's attempt that never reached the upstream, on a protocol proxy.
    public static let connectDetail = "(connect)"

    /// Creates an extractor with no connections seen; `protocolProxies` names the proxies
    /// that parse requests (`protocol: redis`).
    public init(protocolProxies: Set<String> = []) {
        self.protocolProxies = protocolProxies
    }

    public mutating func facts(from event: Event) -> [Fact] {
        exchangeFacts(from: event) + tls.facts(from: event)
    }

    private mutating func exchangeFacts(from event: Event) -> [Fact] {
        guard let link = event.link else { return [] }
        let key = Key(proxy: event.proxy, link: link)
        func fact(_ kind: Fact.Kind) -> Fact { Fact(time: event.time, proxy: event.proxy, link: link, kind: kind) }

        switch event.kind {
        case .connectionOpened:
            open[key] = Connection()
            return [fact(.attempt)]
        case .upstreamConnected:
            open[key]?.connected = true
            return []
        case .exchangeStarted:
            guard var connection = open[key], !connection.outstanding, !connection.ended else { return [] }
            connection.outstanding = true
            open[key] = connection
            return [fact(.request(detail: nil))]
        case .exchangeAnswered:
            guard open[key]?.outstanding == true else { return [] }
            open[key]?.outstanding = false
            return [fact(.success)]
        case .exchangeAbandoned:
            guard open[key]?.outstanding == true else { return [] }
            open[key]?.outstanding = false
            return [fact(.failure(reason: "abandoned by the client"))]
        case .requestStarted(let detail):
            guard open[key]?.ended == false else { return [] }
            open[key]?.unanswered += 1
            return [fact(.request(detail: detail))]
        case .requestAnswered(let error, let byFaultline, _, let handshake):
            guard let unanswered = open[key]?.unanswered, unanswered > 0 else { return [] }
            open[key]?.unanswered = unanswered - 1
            // A connection set up (AUTH, HELLO accepted) is no answer to the client's work: a
            // client reconnecting after each failure would otherwise never fail twice in a row,
            // and a HELLO during an outage would count as its first success.
            guard let error else { return handshake ? [] : [fact(.success)] }
            return [fact(.failure(reason: "\(error) from \(byFaultline ? "faultline" : "the upstream")"))]
        case .requestAbandoned:
            guard let unanswered = open[key]?.unanswered, unanswered > 0 else { return [] }
            open[key]?.unanswered = unanswered - 1
            return [fact(.failure(reason: "abandoned by the client"))]
        case .upstreamFailed(let reason):
            return end(key, fact, reason: "upstream failed: \(reason)")
        case .faultFired(let name, _, let action) where Self.endingActions.contains(action):
            return end(key, fact, reason: "\(action) by \(name)")
        case .connectionClosed:
            let facts = end(key, fact, reason: open[key]?.connected == true
                            ? "closed with the request unanswered" : "closed before the upstream connected")
            open.removeValue(forKey: key)
            return facts
        default:
            return []
        }
    }

    /// The connection ends: its outstanding request fails; one that never connected fails as
    /// the request its attempt was.
    private mutating func end(_ key: Key, _ fact: (Fact.Kind) -> Fact, reason: String) -> [Fact] {
        guard var connection = open[key], !connection.ended else { return [] }
        var facts: [Fact] = []
        if !connection.connected {
            connection.ended = true
            let detail = key.proxy.map(protocolProxies.contains) == true ? Self.connectDetail : nil
            facts = connection.outstanding ? [fact(.failure(reason: reason))]
                                           : [fact(.request(detail: detail)), fact(.failure(reason: reason))]
        } else if connection.outstanding {
            facts = [fact(.failure(reason: reason))]
        }
        if connection.unanswered > 0 {
            let noReply = connection.unanswered == 1 ? "no reply: \(reason)" : "no reply (\(connection.unanswered) requests): \(reason)"
            facts += Array(repeating: fact(.failure(reason: noReply)), count: connection.unanswered)
        }
        connection.unanswered = 0
        connection.outstanding = false
        open[key] = connection
        return facts
    }
}
