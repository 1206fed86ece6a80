/// Facts as the TCP layer sees them, where a connection is all there is to see:
///
/// - attempt: a `connectionOpened`;
/// - request: the same connection (one request per connection until a protocol extractor
///   counts real requests);
/// - success: the connection's `firstReply`;
/// - failure: the connection got `upstreamFailed`, or a fault ended it (`faultFired` with
///   action cut, reset, rejected, refused or closed), or it closed without a `firstReply`.
///   Each connection fails at most once, at the first of these; a connection that had its
///   reply and is then cut by a fault counts as a success and then a failure.
public struct TCPFactExtractor: FactExtractor {
    /// Fault actions that end a connection (as opposed to `delayed`, which only holds it).
    static let endingActions: Set<String> = ["cut", "reset", "rejected", "refused", "closed"]

    private struct Key: Hashable {
        let proxy: String?
        let link: UInt64
    }

    private struct Connection {
        var replied = false
        var failed = false
    }

    private var open: [Key: Connection] = [:]

    /// Creates an extractor with no connections seen.
    public init() {}

    public mutating func facts(from event: Event) -> [Fact] {
        guard let link = event.link else { return [] }
        let key = Key(proxy: event.proxy, link: link)
        func fact(_ kind: Fact.Kind) -> Fact { Fact(time: event.time, proxy: event.proxy, link: link, kind: kind) }

        switch event.kind {
        case .connectionOpened:
            open[key] = Connection()
            return [fact(.attempt), fact(.request(detail: nil))]
        case .firstReply:
            guard var connection = open[key], !connection.replied, !connection.failed else { return [] }
            connection.replied = true
            open[key] = connection
            return [fact(.success)]
        case .upstreamFailed(let reason):
            return fail(key, fact(.failure(reason: "upstream failed: \(reason)")))
        case .faultFired(let name, _, let action) where Self.endingActions.contains(action):
            return fail(key, fact(.failure(reason: "\(action) by \(name)")))
        case .connectionClosed:
            // Closed without an answer: the client's request (if it sent one) went unanswered.
            guard let connection = open.removeValue(forKey: key) else { return [] }
            return connection.replied || connection.failed ? [] : [fact(.failure(reason: "closed without a reply"))]
        default:
            return []
        }
    }

    private mutating func fail(_ key: Key, _ failure: Fact) -> [Fact] {
        guard var connection = open[key], !connection.failed else { return [] }
        connection.failed = true
        open[key] = connection
        return [failure]
    }
}
