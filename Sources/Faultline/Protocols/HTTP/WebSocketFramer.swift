/// Finds the frame boundaries in one direction of a WebSocket connection (RFC 6455 §5.2), so a
/// close frame faultline sends lands between frames, never inside one. Payloads are skipped by
/// length, never held; masking is the sender's business and changes nothing here.
final class WebSocketFramer {
    /// What one `scan` found.
    enum Scan: Equatable {
        /// Every byte given was consumed; the frame is not finished.
        case needMore(consumed: Int)
        /// A frame ended after `consumed` bytes; `opcode` was its opcode (8: close).
        case frame(consumed: Int, opcode: UInt8)
    }

    private var header: [UInt8] = []
    private var remaining: UInt64 = 0
    private var inPayload = false
    private var opcode: UInt8 = 0

    init() { header.reserveCapacity(14) }

    var atBoundary: Bool { header.isEmpty && !inPayload }

    func scan(_ bytes: UnsafeRawBufferPointer) -> Scan {
        var offset = 0
        while offset < bytes.count {
            if inPayload {
                let take = Int(min(remaining, UInt64(bytes.count - offset)))
                offset += take
                remaining -= UInt64(take)
                if remaining == 0 {
                    inPayload = false
                    return .frame(consumed: offset, opcode: opcode)
                }
                continue
            }
            header.append(bytes[offset])
            offset += 1
            guard let length = headerLength(), header.count == length.header else { continue }
            opcode = header[0] & 0x0F
            remaining = length.payload
            header.removeAll(keepingCapacity: true)
            if remaining == 0 { return .frame(consumed: offset, opcode: opcode) }
            inPayload = true
        }
        return .needMore(consumed: offset)
    }

    /// Consumes `bytes` up to the next frame boundary (or all of them): how many it took.
    func skim(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch scan(bytes) {
        case .needMore(let consumed), .frame(let consumed, _): consumed
        }
    }

    /// The header's full size and the payload's length, once enough of the header is known.
    private func headerLength() -> (header: Int, payload: UInt64)? {
        guard header.count >= 2 else { return nil }
        let masked = header[1] & 0x80 != 0 ? 4 : 0
        let short = UInt64(header[1] & 0x7F)
        let extra = short == 126 ? 2 : short == 127 ? 8 : 0
        let size = 2 + extra + masked
        guard header.count >= 2 + extra else { return nil }
        var payload = short
        if extra > 0 {
            payload = header[2..<(2 + extra)].reduce(0) { $0 << 8 | UInt64($1) }
        }
        return (size, payload)
    }

    /// An unmasked close frame, as a server sends it: the status `code`, then `reason`
    /// (cut to fit a control frame's 125 bytes, before a character that would not fit whole:
    /// a reason that is not UTF-8 makes the client fail the connection, RFC 6455 §8.1).
    static func closeFrame(code: Int, reason: String) -> [UInt8] {
        var text = Array(reason.utf8.prefix(124))
        if text.count > 123 {
            // Where the first byte left out continues a character (10xxxxxx), that character goes.
            var cut = 123
            while cut > 0 && text[cut] & 0xC0 == 0x80 { cut -= 1 }
            text.removeSubrange(cut...)
        }
        return [0x88, UInt8(2 + text.count), UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)] + text
    }
}
