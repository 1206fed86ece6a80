import Foundation
import Glibc

/// One HTTP response as its bytes framed it: status, header fields (names lower-cased, in
/// order), body (chunked bodies decoded).
struct RawResponse: CustomStringConvertible {
    let status: Int
    let head: String
    let fields: [(name: String, value: String)]
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { fields.last { $0.name == name.lowercased() }?.value }
    var description: String { "\(head.split(separator: "\r\n").first ?? "") (\(body.count) bytes body)" }
}

/// A raw HTTP/1.1 client connection on a plain socket: it sends bytes exactly as given
/// (pipelined, malformed, split anywhere) and reads responses whole as their framing says, for
/// what no client library sends. One thread at a time.
final class RawHTTP {
    private var fd: Int32
    private var buffer: [UInt8] = []

    init(port: UInt16, timeout: Double = 10) throws {
        fd = try Sock.connect(port: port, timeout: timeout)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    func send(_ bytes: [UInt8]) throws { try Sock.sendAll(fd, bytes) }
    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// The next response (an interim 1xx is one too); `toHEAD`: it answers a HEAD request, so
    /// no body follows whatever its fields say. Throws when the connection ends first or
    /// nothing complete comes within `timeout`.
    func response(toHEAD: Bool = false, timeout: Double = 10) throws -> RawResponse {
        let deadline = monotonicSeconds() + timeout
        let headEnd = try waitFor(deadline) { $0.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound }
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd)
        let lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusWords = lines.first?.split(separator: " ") ?? []
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else {
            throw SystemCallFailure(call: "reading a status line (got \(head.debugDescription))", code: EPROTO)
        }
        let fields = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        func field(_ name: String) -> String? { fields.last { $0.name == name }?.value }
        var body: [UInt8] = []
        if toHEAD || status < 200 || status == 204 || status == 304 {
            // no body
        } else if field("transfer-encoding")?.lowercased().contains("chunked") == true {
            body = try chunkedBody(deadline)
        } else if let length = field("content-length").flatMap(Int.init) {
            _ = try waitFor(deadline) { $0.count >= length ? length : nil }
            body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else {
            let (rest, _) = readToEnd(timeout: max(0, deadline - monotonicSeconds()))
            body = rest
        }
        return RawResponse(status: status, head: head, fields: fields, body: body)
    }

    private func chunkedBody(_ deadline: Double) throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let lineEnd = try waitFor(deadline) { $0.firstRange(of: Array("\r\n".utf8))?.upperBound }
            let line = String(decoding: buffer[0..<(lineEnd - 2)], as: UTF8.self)
            buffer.removeFirst(lineEnd)
            guard let size = Int(line.split(separator: ";").first ?? "", radix: 16) else {
                throw SystemCallFailure(call: "reading a chunk size (got \(line.debugDescription))", code: EPROTO)
            }
            if size == 0 {
                // Trailers, then the empty line.
                let end = try waitFor(deadline) { bytes in
                    bytes.starts(with: Array("\r\n".utf8)) ? 2 : bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound
                }
                buffer.removeFirst(end)
                return body
            }
            _ = try waitFor(deadline) { $0.count >= size + 2 ? size + 2 : nil }
            body += buffer[0..<size]
            buffer.removeFirst(size + 2)
        }
    }

    /// Reads until `found` says where what it needs ends in the buffer.
    private func waitFor(_ deadline: Double, _ found: ([UInt8]) -> Int?) throws -> Int {
        while true {
            if let end = found(buffer) { return end }
            let left = deadline - monotonicSeconds()
            guard left > 0, Sock.waitReadable(fd, timeout: left) else {
                throw SystemCallFailure(call: "reading a response (have \(String(decoding: buffer, as: UTF8.self).debugDescription))", code: ETIMEDOUT)
            }
            let (got, outcome) = Sock.receiveOnce(fd)
            guard case .bytes = outcome else {
                throw SystemCallFailure(call: "recv (\(outcome)) with \(String(decoding: buffer.prefix(200), as: UTF8.self).debugDescription) unread", code: EIO)
            }
            buffer += got
        }
    }

    /// Everything until the connection ends, and how: `EOF`, `RST`, or `open` when it still was
    /// after `timeout`.
    func readToEnd(timeout: Double = 10) -> (bytes: [UInt8], end: String) {
        let (more, end) = Sock.readUntilClosed(fd, timeout: timeout)
        defer { buffer = [] }
        return (buffer + more, end)
    }

    func close() {
        if fd >= 0 { Sock.close(fd) }
        fd = -1
    }
}

/// A request as a client writes it: `GET /path HTTP/1.1`, Host, the extra fields, the body
/// with its Content-Length when there is one.
func httpRequest(_ method: String = "GET", _ path: String, _ fields: [String] = [], body: String? = nil) -> String {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for field in fields { text += field + "\r\n" }
    if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
    return text + "\r\n" + (body ?? "")
}

extension Sock {
    /// Everything until the connection ends, and how: `EOF`, `RST`, `errno N`, or `open` when
    /// it still was after `timeout` seconds.
    static func readUntilClosed(_ fd: Int32, timeout: Double) -> (bytes: [UInt8], end: String) {
        var bytes: [UInt8] = []
        let deadline = monotonicSeconds() + timeout
        while true {
            let left = deadline - monotonicSeconds()
            guard left > 0, waitReadable(fd, timeout: left) else { return (bytes, "open") }
            let (got, outcome) = receiveOnce(fd)
            switch outcome {
            case .bytes: bytes += got
            case .eof: return (bytes, "EOF")
            case .failed(ECONNRESET): return (bytes, "RST")
            case .failed(let code): return (bytes, "errno \(code)")
            }
        }
    }
}
