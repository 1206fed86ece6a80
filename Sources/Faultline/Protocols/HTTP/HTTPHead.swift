/// The head of one HTTP/1.1 message (request line or status line, then header fields), kept
/// as the bytes that arrived plus offsets into them, in storage reused from message to
/// message. `parse` checks it as strictly as a proxy must — every shape two servers could
/// frame differently (request smuggling) is an error — and reads what framing and faults need.
final class HTTPHead {
    /// The head's bytes as received, line ends included, up to and including the empty line.
    private(set) var bytes: [UInt8] = []
    /// Offsets of each field's name and value in `bytes` (value trimmed of whitespace).
    private var fields: [(name: Range<Int32>, value: Range<Int32>)] = []

    // Request line.
    private(set) var method: Range<Int32> = 0..<0
    private(set) var target: Range<Int32> = 0..<0
    // Status line.
    private(set) var status = 0
    /// Bytes of the start line, its line end included (`http.status` replaces them).
    private(set) var startLineLength = 0
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    private(set) var minorVersion = 1

    // What the fields say about framing and the connection.
    private(set) var contentLength: Int64?
    private(set) var chunked = false
    /// Transfer-Encoding without `chunked` last (a response then runs until the close).
    private(set) var otherTransferCoding = false
    private(set) var connectionClose = false
    private(set) var connectionKeepAlive = false
    private(set) var connectionUpgrade = false
    /// An `Upgrade` field naming `websocket`.
    private(set) var upgradeWebSocket = false
    private(set) var hasUpgrade = false
    private(set) var expectContinue = false

    /// Header fields `parse` accepts (the framer sets its limits' `maxHeaders`).
    var maxHeaders = HTTPLimits.standard.maxHeaders

    init() {
        bytes.reserveCapacity(1024)
        fields.reserveCapacity(16)
    }

    var count: Int { bytes.count }

    func reset() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
    }

    func append(_ part: UnsafeRawBufferPointer) { bytes.append(contentsOf: part) }

    /// Whether the connection stays open after this message (its version and `Connection`).
    var keepsAlive: Bool { minorVersion == 1 ? !connectionClose : connectionKeepAlive && !connectionClose }

    /// A WebSocket handshake (`Upgrade: websocket` with `Connection: upgrade`).
    var isWebSocketUpgrade: Bool { upgradeWebSocket && connectionUpgrade }

    var fieldCount: Int { fields.count }

    // MARK: reading parts

    func methodIs(_ name: StaticString) -> Bool { equals(method, name, caseless: false) }

    /// The method as text (`GET`).
    var methodText: String { text(method) }

    /// The target's path, without the query (`/api/v2/users`). A client that takes faultline
    /// for its HTTP proxy sends the absolute form (`http://user:pw@host/api/v2/users`): the
    /// scheme, credentials and authority are left out.
    var pathRange: Range<Int32> {
        var start = Int(target.lowerBound)
        let end = Int(target.upperBound)
        if let slashes = absoluteFormAuthority() {
            // The authority ends at the path's `/` or, when the path is empty, at the query's `?`.
            start = bytes[slashes..<end].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? end
        }
        let stop = bytes[start..<end].firstIndex(of: UInt8(ascii: "?")) ?? end
        return Int32(start)..<Int32(stop)
    }

    /// Where the authority of an absolute-form target begins (after `scheme://`), or nil. The
    /// scheme is a letter then letters, digits, `+`, `-`, `.` (RFC 3986 §3.1): `a?b://c` is a
    /// path `a` and a query, as the upstream reads it.
    private func absoluteFormAuthority() -> Int? {
        let start = Int(target.lowerBound), end = Int(target.upperBound)
        guard start < end, Self.isLetter(bytes[start]),
              let colon = bytes[start..<min(end, start + 16)].firstIndex(of: UInt8(ascii: ":")),
              bytes[start..<colon].allSatisfy({ Self.isLetter($0) || HTTPBytes.isDigit($0) || "+-.".utf8.contains($0) }),
              colon + 3 <= end, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/") else { return nil }
        return colon + 3
    }

    private static func isLetter(_ byte: UInt8) -> Bool { byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A }

    /// The query after `?`, or an empty range.
    var queryRange: Range<Int32> {
        let path = pathRange
        return path.upperBound == target.upperBound ? target.upperBound..<target.upperBound : (path.upperBound + 1)..<target.upperBound
    }

    func text(_ range: Range<Int32>) -> String {
        String(decoding: bytes[Int(range.lowerBound)..<Int(range.upperBound)], as: UTF8.self)
    }

    func slice(_ range: Range<Int32>) -> ArraySlice<UInt8> { bytes[Int(range.lowerBound)..<Int(range.upperBound)] }

    /// The values of every field named `name` (lower-case ASCII), in order.
    func values(of name: [UInt8]) -> [ArraySlice<UInt8>] {
        fields.filter { field in HTTPBytes.equalsLower(bytes[Int(field.name.lowerBound)..<Int(field.name.upperBound)], name) }
            .map { slice($0.value) }
    }

    // MARK: parsing

    /// Reads the head in `bytes` as a request (`request`) or a response; nil when it is sound.
    func parse(request: Bool) -> HTTPError? {
        fields.removeAll(keepingCapacity: true)
        contentLength = nil
        chunked = false
        otherTransferCoding = false
        connectionClose = false
        connectionKeepAlive = false
        connectionUpgrade = false
        upgradeWebSocket = false
        hasUpgrade = false
        expectContinue = false
        status = 0
        return bytes.withUnsafeBufferPointer { all in
            var lines = HTTPLines(all)
            guard let first = lines.next() else { return HTTPError(400, "empty head") }
            startLineLength = first.end
            if let error = request ? requestLine(all, first) : statusLine(all, first) { return error }
            var hosts = 0
            var transferCodings = 0
            while let line = lines.next(), line.content.count > 0 {
                let start = line.content.lowerBound
                if all[start] == HTTPBytes.space || all[start] == HTTPBytes.tab {
                    return HTTPError(400, "a header line starts with whitespace (obs-fold is not accepted)")
                }
                guard let field = HTTPBytes.field(all, line.content) else {
                    return HTTPError(400, "malformed header line (a field name is a token followed directly by ':')")
                }
                guard fields.count < maxHeaders else {
                    return HTTPError(431, "more than \(maxHeaders) header fields")
                }
                fields.append((Int32(field.name.lowerBound)..<Int32(field.name.upperBound),
                               Int32(field.value.lowerBound)..<Int32(field.value.upperBound)))
                let name = UnsafeBufferPointer(rebasing: all[field.name])
                let value = UnsafeBufferPointer(rebasing: all[field.value])
                if let error = understand(name, value, hosts: &hosts, transferCodings: &transferCodings, request: request) {
                    return error
                }
            }
            return framingProblem(request: request, hosts: hosts, transferCodings: transferCodings)
        }
    }

    private func requestLine(_ all: UnsafeBufferPointer<UInt8>, _ line: HTTPLines.Line) -> HTTPError? {
        let content = line.content
        guard let firstSpace = all[content].firstIndex(of: HTTPBytes.space), firstSpace > content.lowerBound,
              let lastSpace = all[content].lastIndex(of: HTTPBytes.space), lastSpace > firstSpace + 1 else {
            return HTTPError(400, "malformed request line")
        }
        guard all[content.lowerBound..<firstSpace].allSatisfy(HTTPBytes.isToken) else { return HTTPError(400, "malformed method") }
        guard all[(firstSpace + 1)..<lastSpace].allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            return HTTPError(400, "malformed request target")
        }
        guard let minor = HTTPBytes.version(all[(lastSpace + 1)..<content.upperBound]) else {
            return HTTPError(505, "not HTTP/1.0 or HTTP/1.1")
        }
        minorVersion = minor
        method = Int32(content.lowerBound)..<Int32(firstSpace)
        target = Int32(firstSpace + 1)..<Int32(lastSpace)
        return nil
    }

    private func statusLine(_ all: UnsafeBufferPointer<UInt8>, _ line: HTTPLines.Line) -> HTTPError? {
        let content = line.content
        let start = content.lowerBound
        guard content.count >= 12, let minor = HTTPBytes.version(all[start..<(start + 8)]), all[start + 8] == HTTPBytes.space,
              all[(start + 9)..<(start + 12)].allSatisfy(HTTPBytes.isDigit),
              content.count == 12 || all[start + 12] == HTTPBytes.space else {
            return HTTPError(502, "malformed status line")
        }
        guard all[start..<content.upperBound].allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == HTTPBytes.tab || $0 >= 0x80 }) else {
            return HTTPError(502, "control character in the status line")
        }
        minorVersion = minor
        status = all[(start + 9)..<(start + 12)].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard status >= 100 else { return HTTPError(502, "status below 100") }
        return nil
    }

    private func understand(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>,
                            hosts: inout Int, transferCodings: inout Int, request: Bool) -> HTTPError? {
        switch name.count {
        case 4 where HTTPBytes.equalsLower(name, "host"):
            hosts += 1
        case 6 where HTTPBytes.equalsLower(name, "expect"):
            expectContinue = HTTPBytes.equalsLower(value, "100-continue")
        case 7 where HTTPBytes.equalsLower(name, "upgrade"):
            hasUpgrade = true
            HTTPBytes.tokens(value) { if HTTPBytes.equalsLower($0, "websocket") { upgradeWebSocket = true } }
        case 10 where HTTPBytes.equalsLower(name, "connection"):
            HTTPBytes.tokens(value) { token in
                if HTTPBytes.equalsLower(token, "close") { connectionClose = true }
                if HTTPBytes.equalsLower(token, "keep-alive") { connectionKeepAlive = true }
                if HTTPBytes.equalsLower(token, "upgrade") { connectionUpgrade = true }
            }
        case 14 where HTTPBytes.equalsLower(name, "content-length"):
            guard contentLength == nil else { return HTTPError(400, "more than one Content-Length") }
            guard !value.isEmpty, value.count <= 18, value.allSatisfy(HTTPBytes.isDigit) else {
                return HTTPError(400, "Content-Length is not a number")
            }
            contentLength = value.reduce(0) { $0 * 10 + Int64($1 - 0x30) }
        case 17 where HTTPBytes.equalsLower(name, "transfer-encoding"):
            var problem: HTTPError?
            HTTPBytes.tokens(value) { coding in
                transferCodings += 1
                if chunked { problem = HTTPError(400, "a transfer coding follows chunked") }
                if HTTPBytes.equalsLower(coding, "chunked") { chunked = true }
            }
            if value.isEmpty || transferCodings == 0 { return HTTPError(400, "empty Transfer-Encoding") }
            if let problem { return problem }
        default:
            break
        }
        return nil
    }

    private func framingProblem(request: Bool, hosts: Int, transferCodings: Int) -> HTTPError? {
        if transferCodings > 0 {
            if contentLength != nil { return HTTPError(400, "both Content-Length and Transfer-Encoding") }
            if minorVersion == 0 { return HTTPError(400, "Transfer-Encoding in an HTTP/1.0 message") }
            if !chunked {
                if request { return HTTPError(501, "a request body not ending in the chunked transfer coding") }
                otherTransferCoding = true
            }
        }
        // RFC 9112 §3.2: a 1.1 request without Host, and any request with more than one, is a 400.
        if request && (hosts > 1 || minorVersion == 1 && hosts == 0) {
            return HTTPError(400, hosts == 0 ? "no Host header" : "more than one Host header")
        }
        return nil
    }

    private func equals(_ range: Range<Int32>, _ word: StaticString, caseless: Bool) -> Bool {
        guard Int(range.upperBound - range.lowerBound) == word.utf8CodeUnitCount else { return false }
        let start = Int(range.lowerBound)
        return word.withUTF8Buffer { w in
            for i in 0..<w.count where bytes[start + i] != w[i] { return false }
            return true
        }
    }
}
