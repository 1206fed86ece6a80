import CEvent
import CShims
import Glibc
import Logging

/// The control API's HTTP server: libevent's evhttp on the proxies' loop, so a handler reads
/// and changes proxies directly and an answer never waits for links to drain.
///
/// evhttp bounds what a client can send (head 64 KB, body `readBody`, 15 s of silence, as
/// Toxiproxy's read timeout) and answers malformed requests itself (400) without calling us;
/// `RequestDeadlines` gives each request 15 s in all, however slowly its bytes come.
/// A body over `maxBody` but within `readBody` is read whole and answered with the API's own 413,
/// which a client still writing its body can read; past `readBody` evhttp refuses it unread.
/// Accept failures (out of descriptors) pause accepting, 10 ms doubling to 1 s, logged at most
/// once a second.
public final class APIServer {
    /// The address bound (port 0 becomes the port the kernel chose).
    public let address: SocketAddress
    /// The largest request body the API takes; larger ones get 413.
    public static let maxBody = 1 << 20
    /// The largest body read before answering 413 (beyond it evhttp closes the connection).
    static let readBody = 16 << 20
    private let http: OpaquePointer
    /// Held so that the `event_base` outlives `evhttp_free` in deinit.
    private let loop: EventLoop
    private let listener: OpaquePointer
    private let log: Logger
    private let handle: (APIRequest) -> APIReply
    private var backoff = RetryBackoff(initial: .milliseconds(10), cap: .seconds(1))
    private var failureLog = AcceptFailureLog()
    private var resumeTimer: Timer?
    private var streams: [ObjectIdentifier: EvhttpStream] = [:]
    private let deadlines: RequestDeadlines

    /// Binds `address` and serves every request through `handle`, on `loop`.
    public init(address requested: SocketAddress, loop: EventLoop, log: Logger,
                handle: @escaping (APIRequest) -> APIReply) throws {
        self.log = log
        self.handle = handle
        self.loop = loop
        deadlines = RequestDeadlines(loop: loop)
        let (fd, bound) = try Listener.listeningSocket(requested, backlog: 128)
        address = bound
        guard let http = evhttp_new(loop.base) else {
            Glibc.close(fd)
            throw ListenError(address: requested, code: ENOMEM)
        }
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)
        guard let listener = evconnlistener_new(loop.base, nil, nil, flags, 0, fd) else {
            evhttp_free(http)
            Glibc.close(fd)
            throw ListenError(address: requested, code: ENOMEM)
        }
        self.http = http
        self.listener = listener
        // evhttp takes the listener over (its accept callback, and freeing it with the server);
        // the error callback stays ours.
        evhttp_bind_listener(http, listener)
        let me = Unmanaged.passUnretained(self).toOpaque()
        // The error callback gets evhttp's argument, not ours: it finds us by the listener.
        apiServers[listener] = Unmanaged.passUnretained(self)
        evconnlistener_set_error_cb(listener, apiAcceptFailed)
        evhttp_set_max_headers_size(http, 64 * 1024)
        evhttp_set_max_body_size(http, Self.readBody)
        evhttp_set_timeout(http, 15)
        evhttp_set_default_content_type(http, nil)
        let methods = EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_POST.rawValue | EVHTTP_REQ_HEAD.rawValue
            | EVHTTP_REQ_PUT.rawValue | EVHTTP_REQ_DELETE.rawValue | EVHTTP_REQ_OPTIONS.rawValue | EVHTTP_REQ_PATCH.rawValue
        evhttp_set_allowed_methods(http, UInt16(methods))
        evhttp_set_gencb(http, apiRequestArrived, me)
        evhttp_set_bevcb(http, apiConnectionMade, me)
        resumeTimer = Timer(loop: loop) { evconnlistener_enable(listener) }
    }

    deinit {
        resumeTimer?.cancel()
        deadlines.cancelAll()
        streams.values.forEach { $0.detach() }
        apiServers[listener] = nil
        evhttp_free(http)
    }

    /// Ends every open stream (the server is closing).
    public func finishStreams() {
        streams.values.forEach { $0.finish() }
    }

    fileprivate func serve(_ request: OpaquePointer) {
        let parsed = Self.read(request)
        if parsed.body.count > Self.maxBody {
            deadlines.served(request, streaming: false)
            let error = APIError("request body too large: \(parsed.body.count) bytes, at most \(Self.maxBody)", status: 413)
            return Self.send(error.response, to: request, head: false)
        }
        let reply = handle(parsed)
        if case .stream = reply { deadlines.served(request, streaming: true) } else { deadlines.served(request, streaming: false) }
        switch reply {
        case .response(let response):
            Self.send(response, to: request, head: parsed.method == "HEAD")
        case .stream(let status, let headers, let start):
            let stream = EvhttpStream(request: request) { [unowned self] gone in streams[ObjectIdentifier(gone)] = nil }
            streams[ObjectIdentifier(stream)] = stream
            Self.addHeaders(headers, to: request)
            evhttp_send_reply_start(request, Int32(status), Self.reason(status))
            stream.keepOpenWhileQuiet()
            start(stream)
        }
    }

    fileprivate func connectionMade(_ base: OpaquePointer) -> OpaquePointer? { deadlines.make(base) }

    fileprivate func acceptFailed(_ code: Int32) {
        evconnlistener_disable(listener)
        let pause = backoff.failed()
        resumeTimer?.schedule(after: pause)
        if let line = failureLog.failed(code, pause: pause) { log.warning("API: \(line)") }
    }

    private static func read(_ request: OpaquePointer) -> APIRequest {
        let method = methodName(evhttp_request_get_command(request))
        // The request target as sent: evhttp's URI parser reads `//version` as an authority.
        var target = evhttp_request_get_uri(request).map { String(cString: $0) } ?? "/"
        if let scheme = target.range(of: "://"), !target.hasPrefix("/") {
            let rest = target[scheme.upperBound...]
            target = rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
        }
        let pathPart = target.prefix { $0 != "?" && $0 != "#" }
        let path = decode(String(pathPart), plus: false)
        var query: [(name: String, value: String)] = []
        let queryPart = target.dropFirst(pathPart.count + 1).prefix { $0 != "#" }
        if target.dropFirst(pathPart.count).hasPrefix("?") {
            for pair in queryPart.split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((decode(String(parts[0]), plus: true), parts.count > 1 ? decode(String(parts[1]), plus: true) : ""))
            }
        }
        var headers: [(name: String, value: String)] = []
        var field = evhttp_request_get_input_headers(request).flatMap { fl_evkeyvalq_first($0) }
        while let current = field {
            headers.append((String(cString: fl_evkeyval_key(current)), String(cString: fl_evkeyval_value(current))))
            field = fl_evkeyval_next(current)
        }
        var body: [UInt8] = []
        if let input = evhttp_request_get_input_buffer(request) {
            let length = evbuffer_get_length(input)
            body = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                count = Int(evbuffer_copyout(input, buffer.baseAddress, length))
            }
        }
        return APIRequest(method: method, path: path, query: query, headers: headers, body: body)
    }

    private static func send(_ response: APIResponse, to request: OpaquePointer, head: Bool) {
        addHeaders(response.headers, to: request)
        guard let buffer = evbuffer_new() else { return evhttp_send_error(request, 500, nil) }
        defer { evbuffer_free(buffer) }
        if !response.body.isEmpty {
            response.body.withUnsafeBytes { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
        }
        evhttp_send_reply(request, Int32(response.status), reason(response.status), head ? nil : buffer)
    }

    /// Go's reason phrases (Toxiproxy's), which differ from RFC 9110's for 413.
    private static func reason(_ status: Int) -> String {
        status == 413 ? "Request Entity Too Large" : HTTPAnswer.reasonPhrase(status)
    }

    private static func addHeaders(_ headers: [(name: String, value: String)], to request: OpaquePointer) {
        let output = evhttp_request_get_output_headers(request)
        for (name, value) in headers { evhttp_add_header(output, name, value) }
    }

    private static func methodName(_ command: evhttp_cmd_type) -> String {
        switch command {
        case EVHTTP_REQ_GET: "GET"
        case EVHTTP_REQ_POST: "POST"
        case EVHTTP_REQ_HEAD: "HEAD"
        case EVHTTP_REQ_PUT: "PUT"
        case EVHTTP_REQ_DELETE: "DELETE"
        case EVHTTP_REQ_OPTIONS: "OPTIONS"
        case EVHTTP_REQ_PATCH: "PATCH"
        default: "OTHER"
        }
    }

    /// Percent-decoding; bytes that are not valid UTF-8 become U+FFFD, and text with an
    /// encoded NUL stays encoded: either way such a path matches no route.
    private static func decode(_ text: String, plus: Bool) -> String {
        var size = 0
        guard let decoded = evhttp_uridecode(text, plus ? 1 : 0, &size) else { return text }
        defer { free(decoded) }
        // A decoded NUL would cut the text short (`/proxies/a%00b` reading as `/proxies/a`).
        guard strlen(decoded) == size else { return text }
        return String(cString: decoded)
    }
}

/// One chunked answer in progress. evhttp frees the request when the connection closes; the
/// close callback tells us first, and from then on nothing touches it.
final class EvhttpStream: APIStream {
    private var request: OpaquePointer?
    private let connection: OpaquePointer?
    private let forget: (EvhttpStream) -> Void
    var onClose: (() -> Void)?

    init(request: OpaquePointer, forget: @escaping (EvhttpStream) -> Void) {
        self.request = request
        self.forget = forget
        connection = evhttp_request_get_connection(request)
        if let connection {
            evhttp_connection_set_closecb(connection, apiStreamClosed, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// A stream's client sends nothing after its request, so the connection's 15 s read timeout
    /// would cut every quiet stream; only the write timeout stays (a client that stops reading
    /// for 15 s while events wait is dropped).
    func keepOpenWhileQuiet() {
        guard let connection, let bev = evhttp_connection_get_bufferevent(connection) else { return }
        var write = timeval(tv_sec: 15, tv_usec: 0)
        bufferevent_set_timeouts(bev, nil, &write)
    }

    @discardableResult
    func send(_ text: String) -> Bool {
        guard let request, let buffer = evbuffer_new() else { return false }
        defer { evbuffer_free(buffer) }
        var text = text
        text.withUTF8 { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
        evhttp_send_reply_chunk(request, buffer)
        return true
    }

    var pendingBytes: Int {
        guard request != nil, let connection, let bev = evhttp_connection_get_bufferevent(connection),
              let output = bufferevent_get_output(bev) else { return 0 }
        return evbuffer_get_length(output)
    }

    func finish() {
        guard let request else { return }
        self.request = nil
        if let connection { evhttp_connection_set_closecb(connection, nil, nil) }
        evhttp_send_reply_end(request)
        forget(self)
    }

    func drop() {
        guard request != nil, let connection else { return }
        request = nil
        evhttp_connection_set_closecb(connection, nil, nil)
        evhttp_connection_free(connection)
        forget(self)
    }

    /// The server is being freed: forget the request without writing.
    func detach() {
        if request != nil, let connection { evhttp_connection_set_closecb(connection, nil, nil) }
        request = nil
    }

    fileprivate func closed() {
        guard let request else { return }
        // A client gone mid-stream: evhttp has taken the request off the connection (it was
        // not done) and leaves freeing it to us; one still on the connection goes with it.
        if evhttp_request_get_connection(request) == nil { evhttp_request_free(request) }
        self.request = nil
        let callback = onClose
        onClose = nil
        forget(self)
        callback?()
    }
}

private func apiConnectionMade(_ base: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> OpaquePointer? {
    guard let base, let arg else { return nil }
    return Unmanaged<APIServer>.fromOpaque(arg).takeUnretainedValue().connectionMade(base)
}

private func apiRequestArrived(_ request: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) {
    guard let request, let arg else { return }
    Unmanaged<APIServer>.fromOpaque(arg).takeUnretainedValue().serve(request)
}

/// Servers by their listener, for `apiAcceptFailed`; touched only on the loop thread.
nonisolated(unsafe) private var apiServers: [OpaquePointer: Unmanaged<APIServer>] = [:]

private func apiAcceptFailed(_ listener: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) {
    // Read errno first: nothing between libevent's failed accept and this call touched it.
    let code = errno
    guard let listener, let server = apiServers[listener] else { return }
    server.takeUnretainedValue().acceptFailed(code)
}

private func apiStreamClosed(_ connection: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<EvhttpStream>.fromOpaque(arg).takeUnretainedValue().closed()
}
