/// The pieces of an HTTP/1.1 reply the control API's client reads, each fed bytes as they
/// arrive (no socket here, so tests feed them directly): the head, chunked bodies and
/// server-sent events.

/// The status line and header fields of a reply.
struct ReplyHead: Sendable {
    let status: Int
    let reason: String
    let headers: [(name: String, value: String)]

    /// The largest head read: the API's heads are a few hundred bytes.
    static let maxSize = 64 * 1024

    /// How the body after the head is delimited.
    enum Framing: Equatable {
        /// No body (204, 304, 1xx, or an answer to HEAD).
        case none
        /// Exactly this many bytes.
        case length(Int)
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// Up to the end of the connection.
        case untilClose
    }

    /// The first value of header `name`, compared without case.
    func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// Where the head ends in `bytes`: the index after its blank line (CRLF CRLF), or nil
    /// when it has not all arrived.
    static func end(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count where bytes[index] == 0x0A && bytes[index - 1] == 0x0D
            && bytes[index - 2] == 0x0A && bytes[index - 3] == 0x0D {
            return index + 1
        }
        return nil
    }

    /// Reads `HTTP/1.1 404 Not Found` and the field lines after it.
    static func parse(_ bytes: ArraySlice<UInt8>) throws(APIClientError) -> ReplyHead {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true).makeIterator()
        guard let statusLine = lines.next() else { throw .badReply("an empty reply head") }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3,
              let status = Int(parts[1]), (100...599).contains(status) else {
            throw .badReply("not an HTTP/1.1 status line: '\(statusLine.prefix(80))'")
        }
        var headers: [(name: String, value: String)] = []
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw .badReply("a header line without a name: '\(line.prefix(80))'")
            }
            let value = line[line.index(after: colon)...].trimmingPrefix(while: { $0 == " " || $0 == "\t" })
            headers.append((String(line[..<colon]), String(value.reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())))
        }
        return ReplyHead(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
    }

    /// The body's framing; `head` when the request was HEAD.
    func framing(head: Bool = false) throws(APIClientError) -> Framing {
        if head || status < 200 || status == 204 || status == 304 { return .none }
        if let coding = header("Transfer-Encoding") {
            guard coding.lowercased().split(separator: ",").last?.trimmingPrefix(" ") == "chunked" else {
                throw .badReply("a Transfer-Encoding this client does not read: \(coding)")
            }
            return .chunked
        }
        let lengths = Set(headers.filter { $0.name.lowercased() == "content-length" }.map(\.value))
        guard let text = lengths.first else { return .untilClose }
        guard lengths.count == 1, text.count <= 18, let length = Int(text), length >= 0, text.allSatisfy(\.isASCII) else {
            throw .badReply("a bad Content-Length: \(lengths.sorted().joined(separator: ", "))")
        }
        return .length(length)
    }
}

/// Decodes a `Transfer-Encoding: chunked` body fed in pieces of any size (RFC 9112 §7.1):
/// size lines (extensions ignored), data, CRLF, and the trailer after the last chunk.
struct ChunkedDecoder {
    private enum State: Equatable {
        case size
        case data(Int)
        case dataEnd
        case trailer
        case done
    }

    /// The longest size or trailer line read.
    static let maxLine = 4096
    private var state = State.size
    private var line: [UInt8] = []

    /// Whether the last chunk and the trailer have been read.
    var isDone: Bool { state == .done }

    /// Decodes `input`, returning the body bytes in it. Bytes after the last chunk are ignored.
    mutating func feed(_ input: ArraySlice<UInt8>) throws(APIClientError) -> [UInt8] {
        var out: [UInt8] = []
        var index = input.startIndex
        while index < input.endIndex {
            switch state {
            case .data(let remaining):
                let take = min(remaining, input.endIndex - index)
                out.append(contentsOf: input[index..<index + take])
                index += take
                state = remaining == take ? .dataEnd : .data(remaining - take)
            case .done:
                return out
            case .size, .dataEnd, .trailer:
                let newline = input[index...].firstIndex(of: 0x0A)
                line.append(contentsOf: input[index..<(newline ?? input.endIndex)])
                if line.count > Self.maxLine { throw .badReply("a chunk line longer than \(Self.maxLine) bytes") }
                guard let newline else { return out }
                index = newline + 1
                if line.last == 0x0D { line.removeLast() }
                let complete = line
                line = []
                try endLine(complete)
            }
        }
        return out
    }

    private mutating func endLine(_ line: [UInt8]) throws(APIClientError) {
        switch state {
        case .size:
            let digits = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != 0x20 && $0 != 0x09 }
            var size = 0
            for digit in digits {
                guard let value = Self.hexValue(digit), size < 1 << 40 else {
                    throw .badReply("a bad chunk size: '\(String(decoding: line.prefix(40), as: UTF8.self))'")
                }
                size = size << 4 | value
            }
            guard !digits.isEmpty else { throw .badReply("an empty chunk size line") }
            state = size == 0 ? .trailer : .data(size)
        case .dataEnd:
            guard line.isEmpty else { throw .badReply("a chunk longer than its size") }
            state = .size
        case .trailer:
            if line.isEmpty { state = .done }
        case .data, .done:
            break
        }
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}

/// One server-sent event: its `data` lines joined by newlines, and its `event` and `id`.
public struct ServerSentEvent: Equatable, Sendable {
    /// The `id:` field, when the event had one.
    public var id: String?
    /// The `event:` field (the event kind), when the event had one.
    public var event: String?
    /// The `data:` lines, joined by `\n`.
    public var data: String

    /// An event with these fields.
    public init(id: String? = nil, event: String? = nil, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }
}

/// Reads a `text/event-stream` fed in pieces (the WHATWG "event stream interpretation"):
/// lines end with CRLF, LF or CR; `:` starts a comment (the API's keep-alives); a blank line
/// dispatches the event if it had data.
struct ServerSentEventParser {
    /// The longest line kept: an event is one JSON object, far smaller.
    static let maxLine = 1 << 20
    private var line: [UInt8] = []
    private var afterCR = false
    private var started = false
    private var data: [String] = []
    private var id: String?
    private var event: String?

    /// The events completed by `input`.
    mutating func feed(_ input: some Sequence<UInt8>) throws(APIClientError) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in input {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0D, 0x0A:
                afterCR = byte == 0x0D
                if let event = endLine() { events.append(event) }
            default:
                guard line.count < Self.maxLine else {
                    throw .badReply("an event line longer than \(Self.maxLine) bytes")
                }
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() -> ServerSentEvent? {
        var text = String(decoding: line, as: UTF8.self)
        line = []
        if !started {
            started = true
            if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        }
        if text.isEmpty {
            defer { data = []; event = nil; id = nil }
            guard !data.isEmpty else { return nil }
            return ServerSentEvent(id: id, event: event, data: data.joined(separator: "\n"))
        }
        if text.hasPrefix(":") { return nil }
        let field: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
        } else {
            field = text[...]
            value = ""
        }
        switch field {
        case "data": data.append(String(value))
        case "event": event = String(value)
        case "id" where !value.contains("\0"): id = String(value)
        default: break
        }
        return nil
    }
}
