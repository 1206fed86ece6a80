/// One request to the control API, read whole (evhttp bounds its head and body).
public struct APIRequest: Sendable {
    /// `GET`, `POST`, `PATCH`, …
    public let method: String
    /// The path, percent-decoded, without the query.
    public let path: String
    /// The query's parameters in order, percent-decoded (`?proxy=redis&kind=faultFired`).
    public let query: [(name: String, value: String)]
    /// Header fields as sent (names compared without case by `header(_:)`).
    public let headers: [(name: String, value: String)]
    /// The body's bytes.
    public let body: [UInt8]

    /// Makes a request (the server builds these; tests too).
    public init(method: String, path: String, query: [(name: String, value: String)] = [],
                headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name`, compared without case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of query parameter `name`, commas splitting lists (`kind=a,b&kind=c`).
    public func queryValues(_ name: String) -> [String] {
        query.filter { $0.name == name }.flatMap { $0.value.split(separator: ",").map(String.init) }
    }
}

/// An answer of the control API.
public struct APIResponse: Sendable {
    public var status: Int
    /// Header fields; `Content-Length` and `Date` are added by the server.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// An answer with these fields.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON answer, `Content-Type: application/json` as Toxiproxy sends it.
    public static func json(_ value: JSONValue, status: Int = 200) -> APIResponse {
        APIResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(value.text.utf8))
    }

    /// A bare status (204 No Content after a delete or reset).
    public static func empty(_ status: Int = 204) -> APIResponse { APIResponse(status: status) }

    /// Plain text as Go's `http.Error` writes it: text/plain, nosniff, a newline at the end.
    /// Toxiproxy's errors go out this way, their JSON inside a text/plain body.
    public static func goError(_ text: String, status: Int) -> APIResponse {
        APIResponse(status: status,
                    headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
                    body: Array((text + "\n").utf8))
    }

    /// An error as Toxiproxy writes one: `{"error":"proxy not found","status":404}` (inside
    /// Go's `http.Error`, so text/plain and a trailing newline).
    public static func error(_ message: String, status: Int) -> APIResponse {
        let body = JSONValue.object(JSONObject(["error": .string(message), "status": .int(status)]))
        return goError(body.text, status: status)
    }
}

/// What a handler gives back: an answer, or a stream it keeps writing (server-sent events).
public enum APIReply {
    case response(APIResponse)
    /// Sends `status` and `headers` now, then hands the open stream to `start`.
    case stream(status: Int, headers: [(name: String, value: String)], start: (APIStream) -> Void)
}

/// An answer still being written (chunked): `/events`. Lives until the client goes away or
/// `finish()`; write only on the loop thread.
public protocol APIStream: AnyObject {
    /// Sends `text` as one chunk. Returns false once the client is gone.
    @discardableResult func send(_ text: String) -> Bool
    /// Bytes written but not yet taken by the client's socket: a slow reader grows this.
    var pendingBytes: Int { get }
    /// Ends the answer (the last chunk).
    func finish()
    /// Closes the connection now, discarding what it has not sent (a reader too slow to keep).
    func drop()
    /// Called once when the client goes away (not after `finish()`).
    var onClose: (() -> Void)? { get set }
}
