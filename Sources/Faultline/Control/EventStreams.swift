/// `GET /events`: the event bus as server-sent events, one stream per client, filtered by
/// `?proxy=NAME,…` and `?kind=faultFired,…`.
///
/// Each event goes out as `id: N`, `event: KIND` and `data: {json}` (the `Event.json` shape),
/// and a comment line every 15 s keeps idle connections open through proxies and lets a
/// client notice a dead server. A client that stops reading is disconnected once 4 MB wait
/// unread, its buffer freed: the stream never grows without bound and never slows the proxy.
final class EventStreams {
    /// Unread bytes after which a stream is closed.
    static let maxPending = 4 << 20
    private var streams: [ObjectIdentifier: Subscriber] = [:]
    private var nextID: UInt64 = 0
    private lazy var heartbeat = Timer(loop: loop) { [unowned self] in beat() }
    private let loop: EventLoop

    /// Run-level events (phases, the command) concern every proxy: a `proxy` filter lets them through.
    private final class Subscriber {
        let stream: any APIStream
        let proxies: Set<String>
        let kinds: Set<String>
        init(stream: any APIStream, proxies: Set<String>, kinds: Set<String>) {
            self.stream = stream
            self.proxies = proxies
            self.kinds = kinds
        }

        func wants(_ event: Event, kind: String) -> Bool {
            (proxies.isEmpty || event.proxy.map(proxies.contains) ?? true) && (kinds.isEmpty || kinds.contains(kind))
        }
    }

    init(bus: EventBus, loop: EventLoop) {
        self.loop = loop
        bus.subscribe { [weak self] event in self?.deliver(event) }
    }

    /// Opens a stream for `request`, or refuses a filter naming an unknown kind (400).
    func open(_ request: APIRequest) throws(APIError) -> APIReply {
        let kinds = Set(request.queryValues("kind"))
        if let unknown = kinds.first(where: { !Event.kindNames.contains($0) }) {
            let hint = Suggestion.closest(to: unknown, in: Event.kindNames).map { " (did you mean '\($0)'?)" } ?? ""
            throw APIError("kind: '\(unknown)' is not an event kind\(hint); kinds: \(Event.kindNames.joined(separator: ", "))", status: 400)
        }
        for parameter in request.query.map(\.name) where !["kind", "proxy"].contains(parameter) {
            throw APIError("'\(parameter)' is not a filter of /events; filters: proxy, kind", status: 400)
        }
        let proxies = Set(request.queryValues("proxy"))
        let headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
        return .stream(status: 200, headers: headers) { [weak self] stream in
            guard let self else { return }
            let subscriber = Subscriber(stream: stream, proxies: proxies, kinds: kinds)
            let key = ObjectIdentifier(subscriber)
            streams[key] = subscriber
            stream.onClose = { [weak self] in self?.streams[key] = nil }
            stream.send(": faultline events\n\n")
            if streams.count == 1 { heartbeat.schedule(after: .seconds(15)) }
        }
    }

    private func deliver(_ event: Event) {
        guard !streams.isEmpty else { return }
        let kind = Event.kindName(event.kind)
        var text: String?
        for (key, subscriber) in streams where subscriber.wants(event, kind: kind) {
            if subscriber.stream.pendingBytes > Self.maxPending {
                // Closed, not ended: its unsent megabytes go at once (ending it would keep them
                // for as long as the client trickles), and the client sees the stream cut.
                streams[key] = nil
                subscriber.stream.drop()
                continue
            }
            if text == nil {
                nextID += 1
                text = "id: \(nextID)\nevent: \(kind)\ndata: \(JSONValue.object(event.json).text)\n\n"
            }
            subscriber.stream.send(text ?? "")
        }
    }

    private func beat() {
        guard !streams.isEmpty else { return }
        for subscriber in streams.values { subscriber.stream.send(": keep-alive\n\n") }
        heartbeat.schedule(after: .seconds(15))
    }

    /// Ends every stream (the server stops).
    func finishAll() {
        heartbeat.cancel()
        let open = streams.values
        streams.removeAll()
        open.forEach { $0.stream.finish() }
    }
}
