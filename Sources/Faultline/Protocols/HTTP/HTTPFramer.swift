import Glibc

/// What one `HTTPFramer.scan` found.
enum HTTPScan: Equatable {
    /// Every byte given was consumed and the message is not finished.
    case needMore(consumed: Int)
    /// The head ended after `consumed` bytes: `head` holds it; a body follows.
    case head(consumed: Int)
    /// The head ended after `consumed` bytes and the message has no body: it is complete.
    case message(consumed: Int)
    /// The body ended after `consumed` bytes: the message is complete.
    case complete(consumed: Int)
    /// Not HTTP/1.1 that can be framed unambiguously; the framer stays failed.
    case error(HTTPError)
}

/// Frames HTTP/1.1 messages in one direction of a connection — requests from a client, or the
/// responses to them — from bytes split anywhere, without holding bodies: a body is skipped
/// by its Content-Length or by its chunk sizes, so a large upload or download streams at the
/// cost of a counter. Only the head is kept (in `head`, storage reused per message).
///
/// Strict where two parsers could disagree about where a message ends (the request smuggling
/// shapes): both Content-Length and Transfer-Encoding, two Content-Lengths, obs-fold, a
/// whitespace before a field's colon, a bare CR, chunk lines not ending in CRLF. After a 101
/// (or a 2xx to CONNECT) the connection is no longer HTTP: `isTunnel`, every byte is consumed.
final class HTTPFramer {
    enum Side { case request, response }

    private enum Phase: UInt8 {
        case start, head, fixed, chunkSize, chunkExtension, chunkSizeLF, chunkData, chunkDataCR, chunkDataLF,
             trailers, trailerLF, untilClose, tunnel
    }

    let side: Side
    let head = HTTPHead()
    private let limits: HTTPLimits
    private var phase = Phase.start
    private var failure: HTTPError?
    /// Where the line being read began in `head` (head phase).
    private var lineStart = 0
    private var remaining: Int64 = 0
    private var sizeDigits = 0
    /// Bytes of the chunk line or trailer section being read.
    private var lineBytes = 0
    private var trailerBytes = 0
    private var trailerLineEmpty = true

    /// Response side: the request this response answers was HEAD (no body follows any status)
    /// or CONNECT (a 2xx turns the connection into a tunnel). Set before its first byte.
    var answersHEAD = false
    var answersCONNECT = false

    init(_ side: Side, limits: HTTPLimits = .standard) {
        self.side = side
        self.limits = limits
        head.maxHeaders = limits.maxHeaders
    }

    /// Between messages: nothing of a next one has been read.
    var atBoundary: Bool { phase == .start }
    /// The message is in its body (after `.head`).
    var inBody: Bool { phase.rawValue >= Phase.fixed.rawValue && phase != .tunnel }
    /// After a 101 or a CONNECT's 2xx: bytes are no longer HTTP.
    var isTunnel: Bool { phase == .tunnel }
    /// The head is being read (some of it arrived, not its end).
    var inHead: Bool { phase == .head }
    /// The body runs until the connection closes (a response without a length).
    var endsAtClose: Bool { phase == .untilClose }

    /// The connection closed: true when that ended the message (a body delimited by the
    /// close), which is then complete; false when it cut a message short or came between.
    func endOfStream() -> Bool {
        guard phase == .untilClose else { return false }
        phase = .start
        return true
    }
    var failed: HTTPError? { failure }

    func scan(_ bytes: UnsafeRawBufferPointer) -> HTTPScan {
        if let failure { return .error(failure) }
        var offset = 0
        let count = bytes.count
        while offset < count {
            switch phase {
            case .start:
                // RFC 9112 §2.2: a server ignores empty lines before a request line.
                if side == .request && (bytes[offset] == HTTPBytes.cr || bytes[offset] == HTTPBytes.lf) {
                    offset += 1
                    continue
                }
                head.reset()
                lineStart = 0
                phase = .head
            case .head:
                let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
                guard let base = rest.baseAddress, let lf = memchr(base, Int32(HTTPBytes.lf), rest.count) else {
                    head.append(rest)
                    offset = count
                    if head.count > limits.maxHead { return fail(HTTPError(431, "head larger than \(limits.maxHead / 1024) KB")) }
                    continue
                }
                let take = (UnsafeRawPointer(lf) - base) + 1
                head.append(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                offset += take
                let lineLength = head.count - lineStart
                if head.count > limits.maxHead { return fail(HTTPError(431, "head larger than \(limits.maxHead / 1024) KB")) }
                let empty = lineLength == 1 || lineLength == 2 && head.bytes[lineStart] == HTTPBytes.cr
                if empty && lineStart == 0 { return fail(HTTPError(side == .request ? 400 : 502, "empty start line")) }
                lineStart = head.count
                guard empty else { continue }
                if let error = head.parse(request: side == .request) { return fail(error) }
                if beginBody() { return .head(consumed: offset) }
                phase = .start
                return .message(consumed: offset)
            case .fixed:
                let take = Int(min(remaining, Int64(count - offset)))
                offset += take
                remaining -= Int64(take)
                if remaining == 0 {
                    phase = .start
                    return .complete(consumed: offset)
                }
            case .chunkSize:
                let byte = bytes[offset]
                offset += 1
                if let digit = Self.hex(byte) {
                    sizeDigits += 1
                    guard sizeDigits <= 15 else { return fail(HTTPError(400, "chunk size too large")) }
                    remaining = remaining << 4 | Int64(digit)
                } else if sizeDigits > 0 && byte == HTTPBytes.cr {
                    phase = .chunkSizeLF
                } else if sizeDigits > 0 && (byte == UInt8(ascii: ";") || byte == HTTPBytes.space || byte == HTTPBytes.tab) {
                    phase = .chunkExtension
                    lineBytes = 0
                } else {
                    return fail(HTTPError(400, "malformed chunk size"))
                }
            case .chunkExtension:
                let byte = bytes[offset]
                offset += 1
                lineBytes += 1
                if byte == HTTPBytes.cr {
                    phase = .chunkSizeLF
                } else if byte < 0x20 && byte != HTTPBytes.tab || byte == 0x7F || lineBytes > limits.maxChunkLine {
                    return fail(HTTPError(400, "malformed chunk extension"))
                }
            case .chunkSizeLF:
                guard bytes[offset] == HTTPBytes.lf else { return fail(HTTPError(400, "chunk size line not ending in CRLF")) }
                offset += 1
                if remaining == 0 {
                    phase = .trailers
                    trailerBytes = 0
                    trailerLineEmpty = true
                } else {
                    phase = .chunkData
                }
            case .chunkData:
                let take = Int(min(remaining, Int64(count - offset)))
                offset += take
                remaining -= Int64(take)
                if remaining == 0 { phase = .chunkDataCR }
            case .chunkDataCR, .chunkDataLF:
                let expected = phase == .chunkDataCR ? HTTPBytes.cr : HTTPBytes.lf
                guard bytes[offset] == expected else { return fail(HTTPError(400, "chunk data not followed by CRLF")) }
                offset += 1
                if phase == .chunkDataLF { startChunk() } else { phase = .chunkDataLF }
            case .trailers:
                let byte = bytes[offset]
                offset += 1
                trailerBytes += 1
                guard trailerBytes <= limits.maxTrailers else { return fail(HTTPError(431, "trailers too large")) }
                if byte == HTTPBytes.cr {
                    phase = .trailerLF
                } else if byte == HTTPBytes.lf || byte < 0x20 && byte != HTTPBytes.tab || byte == 0x7F {
                    return fail(HTTPError(400, "malformed trailer line"))
                } else {
                    trailerLineEmpty = false
                }
            case .trailerLF:
                guard bytes[offset] == HTTPBytes.lf else { return fail(HTTPError(400, "trailer line not ending in CRLF")) }
                offset += 1
                if trailerLineEmpty {
                    phase = .start
                    return .complete(consumed: offset)
                }
                trailerLineEmpty = true
                phase = .trailers
            case .untilClose, .tunnel:
                offset = count
            }
        }
        return .needMore(consumed: offset)
    }

    /// Sets the phase for the body the head announces; false when there is none.
    private func beginBody() -> Bool {
        if side == .response {
            let status = head.status
            if status == 101 || answersCONNECT && (200..<300).contains(status) {
                phase = .tunnel
                return true
            }
            if status < 200 || status == 204 || status == 304 || answersHEAD { return false }
            if head.chunked {
                startChunk()
                return true
            }
            if head.otherTransferCoding || head.contentLength == nil {
                phase = .untilClose
                return true
            }
        } else if head.chunked {
            startChunk()
            return true
        }
        guard let length = head.contentLength, length > 0 else { return false }
        remaining = length
        phase = .fixed
        return true
    }

    private func startChunk() {
        phase = .chunkSize
        remaining = 0
        sizeDigits = 0
    }

    private func fail(_ error: HTTPError) -> HTTPScan {
        failure = error
        return .error(error)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
