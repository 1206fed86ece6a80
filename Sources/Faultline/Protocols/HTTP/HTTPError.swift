/// Bytes that are not HTTP/1.1 faultline can forward unambiguously: the connection ends. A
/// client gets `status` from faultline first (400, 431, 501); the upstream's garbage ends the
/// link. `message` names the problem, never a header's value (values can be credentials).
struct HTTPError: Error, Equatable {
    let status: Int
    let message: String

    init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// How much of a message's framing faultline keeps while scanning it; past these a client
/// gets 431 (or 400 for a chunk line) and an upstream's response ends the link.
struct HTTPLimits {
    /// The whole head: request or status line and every header line, line ends included.
    /// Node.js accepts 16 KB, nginx 4 lines of 8 KB; 64 KB covers large cookies and tokens.
    var maxHead = 64 << 10
    /// Header fields in one head (Go's and Node's parsers stop near here too).
    var maxHeaders = 128
    /// A chunk-size line with its extensions, or one trailer line.
    var maxChunkLine = 4 << 10
    /// Trailer bytes after the last chunk.
    var maxTrailers = 16 << 10

    static let standard = HTTPLimits()
}
