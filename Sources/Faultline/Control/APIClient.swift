import Glibc

/// A blocking HTTP/1.1 client of the control API, for scripts (`faultline ctl`): one
/// connection per request (`Connection: close`), no event loop, a timeout on the connect and
/// on every wait for bytes.
///
/// It sends `Authorization: Bearer TOKEN` when it has a token and `User-Agent: faultline-ctl/…`
/// (the API refuses agents starting `Mozilla/` as browsers); it reads `Content-Length`,
/// chunked and until-close bodies, and `/events` as server-sent events as they arrive.
public struct APIClient: Sendable {
    /// Where the API listens.
    public let address: SocketAddress
    /// The bearer token sent with every request, if any.
    public let token: String?
    /// How long a connect, and each wait for the next bytes of an answer, may take.
    public let timeout: Duration
    /// How long an event stream may stay silent: the API sends a keep-alive every 15 s, so
    /// three missed ones mean the server or the path to it is gone.
    public static let streamSilence: Duration = .seconds(45)
    /// The largest answer read whole (events are streamed, not bounded).
    public static let maxBody = 64 << 20
    /// `faultline-ctl/VERSION`.
    public static let userAgent = "faultline-ctl/\(FaultlineVersion.current)"

    /// A client of the API at `address`.
    public init(address: SocketAddress, token: String? = nil, timeout: Duration = .seconds(5)) {
        self.address = address
        self.token = token
        self.timeout = timeout
    }

    /// Reads an API address: `host:port` or `[v6]:port`, also written as a URL
    /// (`http://127.0.0.1:8474/`, as Toxiproxy's `TOXIPROXY_URL`).
    public static func address(_ text: String) throws -> SocketAddress {
        var rest = Substring(text)
        if rest.lowercased().hasPrefix("https://") {
            throw AddressError(text: text, reason: "the control API speaks plain HTTP; write http://HOST:PORT or HOST:PORT")
        }
        if rest.lowercased().hasPrefix("http://") { rest = rest.dropFirst(7) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        return try SocketAddress(parsingUpstream: String(rest))
    }

    /// `name` as one path segment: every byte outside RFC 3986's unreserved set percent-encoded
    /// (proxy names may hold spaces, `?`, `#` or `%`).
    public static func pathSegment(_ name: String) -> String {
        var out = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 0xF)])"
            }
        }
        return out
    }

    /// Sends one request and reads the whole answer, whatever its status.
    public func send(_ method: String, _ path: String, body: [UInt8]? = nil,
                     contentType: String? = nil) throws(APIClientError) -> APIClientReply {
        let connection = try APIConnection(to: address, timeout: timeout)
        try connection.write(try requestBytes(method, path, body: body, contentType: contentType, accept: "application/json"))
        let head = try connection.readHead(idle: timeout)
        var body: [UInt8] = []
        try connection.readBody(head.framing(head: method == "HEAD"), idle: timeout, early: .fails) { piece throws(APIClientError) in
            guard body.count + piece.count <= Self.maxBody else {
                throw .badReply("an answer larger than \(Self.maxBody >> 20) MB")
            }
            body.append(contentsOf: piece)
        }
        return APIClientReply(status: head.status, reason: head.reason, headers: head.headers, body: body)
    }

    /// Sends one request; an answer other than 2xx throws `.refused` with the API's message.
    @discardableResult
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil,
                        contentType: String? = nil) throws(APIClientError) -> APIClientReply {
        let reply = try send(method, path, body: body, contentType: contentType)
        guard (200..<300).contains(reply.status) else { throw reply.refusal }
        return reply
    }

    /// Sends `body` as JSON (when given) and reads a 2xx JSON answer; nil for an empty one (204).
    @discardableResult
    public func json(_ method: String, _ path: String, body: JSONValue? = nil) throws(APIClientError) -> JSONValue? {
        let bytes = body.map { Array($0.text.utf8) } ?? (method == "GET" || method == "DELETE" ? nil : [])
        let reply = try request(method, path, body: bytes, contentType: body == nil ? nil : "application/json")
        guard reply.body.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return nil }
        do {
            return try JSONParser.parse(reply.body)
        } catch {
            throw .badReply("the answer to \(method) \(path) is not JSON (\(error))")
        }
    }

    /// Reads `path` (`/events?…`) as server-sent events, calling `receive` with each event as
    /// it arrives, until the API ends the stream (a server stopping sends its last chunk); a
    /// stream cut before that (a server killed, a network gone), or silent for
    /// `streamSilence`, throws: a watcher must not take a lost stream for a quiet one.
    public func events(_ path: String, receive: (ServerSentEvent) -> Void) throws(APIClientError) {
        let connection = try APIConnection(to: address, timeout: timeout)
        try connection.write(try requestBytes("GET", path, body: nil, contentType: nil, accept: "text/event-stream"))
        let head = try connection.readHead(idle: timeout)
        guard (200..<300).contains(head.status) else {
            var body: [UInt8] = []
            try? connection.readBody(head.framing(), idle: timeout, early: .ends) { piece in
                body.append(contentsOf: piece.prefix(64 * 1024 - body.count))
            }
            throw APIClientReply(status: head.status, reason: head.reason, headers: head.headers, body: body).refusal
        }
        var parser = ServerSentEventParser()
        try connection.readBody(head.framing(), idle: Self.streamSilence, early: .fails) { piece throws(APIClientError) in
            for event in try parser.feed(piece) { receive(event) }
        }
    }

    private func requestBytes(_ method: String, _ path: String, body: [UInt8]?, contentType: String?,
                              accept: String) throws(APIClientError) -> [UInt8] {
        var lines = ["\(method) \(path) HTTP/1.1", "Host: \(address)", "User-Agent: \(Self.userAgent)", "Accept: \(accept)"]
        if let token {
            guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                throw .badRequest("the token must be printable ASCII without spaces")
            }
            lines.append("Authorization: Bearer \(token)")
        }
        if let contentType { lines.append("Content-Type: \(contentType)") }
        if let body { lines.append("Content-Length: \(body.count)") }
        lines.append("Connection: close")
        guard !path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw .badRequest("a request path with spaces or control characters: \(path)")
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + (body ?? [])
    }
}

/// One answer of the control API.
public struct APIClientReply: Sendable {
    /// The status code.
    public let status: Int
    /// The status line's reason phrase.
    public let reason: String
    /// The header fields, in order.
    public let headers: [(name: String, value: String)]
    /// The body, decoded from chunks when it was chunked.
    public let body: [UInt8]

    /// The first value of header `name`, compared without case.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// The body as JSON, or nil when it is not.
    public var json: JSONValue? { try? JSONParser.parse(body) }

    /// The error this answer stands for: the `error` text of the API's `{"error":…,"status":…}`,
    /// else the body's first line, else the reason phrase.
    public var refusal: APIClientError {
        if case .object(let object)? = json, case .string(let message)? = object["error"] {
            return .refused(status: status, message: message, body: body)
        }
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return .refused(status: status, message: line.isEmpty ? reason : line, body: body)
    }
}

/// Why a request to the control API did not get a 2xx answer.
public enum APIClientError: Error, Equatable, CustomStringConvertible {
    /// Nothing listens at the address (connection refused).
    case notRunning(address: String)
    /// The connection could not be made, timed out, or broke during the answer.
    case unreachable(address: String, reason: String)
    /// The API answered with an error status and this message (its `{"error":…}` text).
    case refused(status: Int, message: String, body: [UInt8])
    /// The answer is not the HTTP or JSON expected.
    case badReply(String)
    /// The request cannot be sent as given (a token with spaces).
    case badRequest(String)

    /// `HTTP 404: proxy not found`, or what went wrong with the connection.
    public var description: String {
        switch self {
        case .notRunning(let address):
            "the control API is not running at \(address) (connection refused); start it with: faultline serve --api \(address)"
        case .unreachable(let address, let reason): "cannot reach the control API at \(address): \(reason)"
        case .refused(let status, let message, _): "HTTP \(status): \(message)"
        case .badReply(let reason): "the control API answered something unexpected: \(reason)"
        case .badRequest(let reason): reason
        }
    }
}

/// One TCP connection to the API: non-blocking, every wait bounded by `poll`.
final class APIConnection {
    private let fd: Int32
    private let peer: String
    private var unread: [UInt8] = []

    init(to address: SocketAddress, timeout: Duration) throws(APIClientError) {
        peer = address.description
        fd = try Self.connected(to: address, peer: peer, timeout: timeout)
    }

    /// A socket connected to `address` (closed again when the connect fails).
    private static func connected(to address: SocketAddress, peer: String, timeout: Duration) throws(APIClientError) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(address.family, type, 0)
        guard fd >= 0 else { throw .unreachable(address: peer, reason: "socket: \(text(errno))") }
        if address.withSockaddr({ connect(fd, $0, $1) }) == 0 { return fd }
        let code = errno
        do throws(APIClientError) {
            guard code == EINPROGRESS else { throw connectFailure(code, peer) }
            guard try wait(fd, for: Int16(POLLOUT), idle: timeout, peer: peer) else {
                throw .unreachable(address: peer, reason: "no connection within \(seconds(timeout))")
            }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
            if failure != 0 { throw connectFailure(failure, peer) }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) throws(APIClientError) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { sent += count; continue }
            let code = errno
            guard code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
                throw .unreachable(address: peer, reason: "sending the request: \(Self.text(code))")
            }
            guard try Self.wait(fd, for: Int16(POLLOUT), idle: .seconds(5), peer: peer) else {
                throw .unreachable(address: peer, reason: "the API took no bytes of the request for 5 s")
            }
        }
    }

    /// The reply's head; bytes after it stay unread for the body.
    func readHead(idle: Duration) throws(APIClientError) -> ReplyHead {
        while true {
            if let end = ReplyHead.end(in: unread) {
                let head = try ReplyHead.parse(unread[..<(end - 4)])
                unread.removeFirst(end)
                // A 100 Continue (never asked for) is followed by the real answer.
                if head.status == 100 { continue }
                return head
            }
            guard unread.count <= ReplyHead.maxSize else { throw .badReply("a reply head larger than 64 KB") }
            guard let bytes = try read(idle: idle) else {
                throw unread.isEmpty ? .unreachable(address: peer, reason: "the API closed the connection without answering")
                    : .badReply("the connection closed inside the reply head")
            }
            unread += bytes
        }
    }

    /// What a connection closed before the body's end means.
    enum EarlyEnd {
        /// An error: the answer is incomplete.
        case fails
        /// The end of what can be read (an error's text, read best-effort).
        case ends
    }

    /// Reads the body as `framing` says, handing each piece to `sink`; `early` says what a
    /// connection closed before the body's end means.
    func readBody(_ framing: ReplyHead.Framing, idle: Duration, early: EarlyEnd,
                  sink: ([UInt8]) throws(APIClientError) -> Void) throws(APIClientError) {
        let cut = APIClientError.unreachable(address: peer, reason: "the API closed the connection before the answer ended")
        switch framing {
        case .none:
            return
        case .length(var remaining):
            while remaining > 0 {
                let piece = try take(idle: idle)
                guard let piece else { if early == .ends { return }; throw cut }
                let used = Array(piece.prefix(remaining))
                remaining -= used.count
                try sink(used)
            }
        case .untilClose:
            while let piece = try take(idle: idle) { try sink(piece) }
        case .chunked:
            var decoder = ChunkedDecoder()
            while !decoder.isDone {
                guard let piece = try take(idle: idle) else {
                    if early == .ends { return }
                    throw cut
                }
                let data = try decoder.feed(piece[...])
                if !data.isEmpty { try sink(data) }
            }
        }
    }

    /// Unread bytes, else the next bytes from the socket; nil at the end of the connection.
    private func take(idle: Duration) throws(APIClientError) -> [UInt8]? {
        if !unread.isEmpty {
            defer { unread = [] }
            return unread
        }
        return try read(idle: idle)
    }

    private func read(idle: Duration) throws(APIClientError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return Array(buffer[..<count]) }
            if count == 0 { return nil }
            let code = errno
            guard code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
                throw .unreachable(address: peer, reason: "reading the answer: \(Self.text(code))")
            }
            guard try Self.wait(fd, for: Int16(POLLIN), idle: idle, peer: peer) else {
                throw .unreachable(address: peer, reason: "no answer within \(Self.seconds(idle))")
            }
        }
    }

    /// Waits until the socket is ready for `events`; false when `idle` passed first.
    private static func wait(_ fd: Int32, for events: Int16, idle: Duration, peer: String) throws(APIClientError) -> Bool {
        let (seconds, attoseconds) = idle.components
        var remaining = Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        while true {
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: max(remaining, 0)))
            if ready > 0 { return true }
            if ready == 0 { return false }
            guard errno == EINTR else { throw .unreachable(address: peer, reason: "poll: \(text(errno))") }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1_000_000
            remaining = Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000) - spent
        }
    }

    private static func connectFailure(_ code: Int32, _ peer: String) -> APIClientError {
        code == ECONNREFUSED ? .notRunning(address: peer) : .unreachable(address: peer, reason: text(code))
    }

    private static func text(_ code: Int32) -> String { String(cString: strerror(code)) }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let tenths = attoseconds / 100_000_000_000_000_000
        return tenths == 0 ? "\(seconds) s" : "\(seconds).\(tenths) s"
    }
}
