/// What a whole top-level reply is, known from its first non-attribute type byte on.
enum ReplyKind: Equatable { case unknown, push, error, other }

/// What one `RESPReplyFramer.scan` found.
enum ReplyScan: Equatable {
    /// Every byte given was consumed (consumed == bytes.count) and the reply is not finished.
    case needMore(consumed: Int)
    /// The top-level reply ended after `consumed` bytes of this call.
    case complete(consumed: Int)
    /// Garbage from the server; the framer stays failed.
    case error(RESPError)
}

/// Frames the replies a Redis server sends, RESP2 and RESP3 alike (the types do not overlap),
/// without holding them: bytes arrive split anywhere, a bulk payload is skipped by its length,
/// and nested aggregates are an explicit stack of counters, not recursion, so a hostile
/// `*1\r\n*1\r\n…` reaches `maxDepth` and fails instead of the call stack.
///
/// Numbers (`:` and every length) follow `string2ll` as hiredis does; `_` must be empty, `#`
/// must be `t` or `f`, `(` an optionally signed run of digits, `,` any non-empty line, and `=`
/// must start with its format and `:` (`txt:`). RESP2's
/// nulls `$-1` and `*-1` are values; no other negative length is. A line's `\r` must be followed
/// by `\n`, and a payload by `\r\n`. An attribute (`|`) annotates the value that follows it and
/// is part of that value's reply; it may come before any value at any depth, but not before a
/// streamed aggregate's end (`.`), which closes nothing it could annotate.
final class RESPReplyFramer {
    private enum Phase: UInt8 {
        /// A value's type byte.
        case type
        /// The rest of a line after its type byte, up to `\r`.
        case line
        /// The byte after a line's `\r`.
        case lineEnd
        /// A length-prefixed payload.
        case payload
        case payloadCR
        case payloadLF
        /// The `;` of a streamed string's next chunk.
        case chunk
    }

    /// An open aggregate.
    private struct Frame {
        /// Elements still to come; for a streamed aggregate, the parity of those seen so far
        /// (a streamed map may only end between pairs).
        var left: Int64
        var streamed: Bool
        var attribute: Bool
        var map: Bool
    }

    /// What a finished line or value leaves to do.
    private enum Step {
        case more
        case complete
        case failed(String)
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    /// How much of an error's text is kept.
    private static let errorCapture = 64

    private let limits: RESPLimits
    /// The reply being scanned (or just completed): its kind, and for errors the first up to
    /// 64 bytes of the error text.
    private(set) var kind = ReplyKind.unknown
    private var errorBytes: [UInt8] = []
    private var phase = Phase.type
    private var failure: RESPError?
    /// Open aggregates, innermost last; emptied keeping its capacity.
    private var stack: [Frame] = []
    /// A byte of the current reply has been scanned.
    private var started = false
    /// An attribute ended and the value it annotates has not begun.
    private var annotating = false
    /// The current line's type byte (`;` for a streamed string's chunk header).
    private var lineType: UInt8 = 0
    private var lineFirst: UInt8 = 0
    /// Bytes of the current line after its type byte, `\r\n` excluded.
    private var lineLength = 0
    /// The line's number, for the types that carry one.
    private var number = RESPInteger()
    /// For `(`: every byte so far fits an optionally signed integer.
    private var bigNumber = true
    private var payloadLeft = 0
    /// Bytes of the payload seen so far, for the `:` a verbatim string has at offset 3.
    private var payloadSeen = 0
    /// The payload's type byte: `$`, `!`, `=`, or `;` for a streamed string's chunk.
    private var payloadType: UInt8 = 0
    /// The current line or payload is the top-level error's text.
    private var capturingError = false

    init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
        errorBytes.reserveCapacity(Self.errorCapture)
        stack.reserveCapacity(min(max(limits.maxDepth, 0), 16))
    }

    /// The first up to 64 bytes of the error's text (e.g. `NOAUTH Authentication required.`);
    /// empty unless `kind == .error`.
    var errorText: ArraySlice<UInt8> { kind == .error ? errorBytes[...] : [] }

    /// The error's first word (`WRONGPASS`), as a String; only made when asked for.
    var errorPrefix: String {
        let text = errorText
        let end = text.firstIndex(of: UInt8(ascii: " ")) ?? text.endIndex
        return String(decoding: text[..<end], as: UTF8.self)
    }

    /// True between replies (no byte of the next reply scanned yet).
    var atBoundary: Bool { !started && failure == nil }

    /// Scans `bytes`, which continue where the last scan's consumed bytes ended, up to the end of
    /// the current top-level reply.
    func scan(_ bytes: UnsafeRawBufferPointer) -> ReplyScan {
        if let failure { return .error(failure) }
        var index = 0
        while index < bytes.count {
            let step: Step
            switch phase {
            case .type:
                step = typeByte(bytes[index])
                index += 1
            case .line:
                step = line(bytes, &index)
            case .lineEnd:
                index += 1
                step = bytes[index - 1] == Self.lf ? lineEnded() : .failed("reply line has CR without LF")
            case .payload:
                step = payload(bytes, &index)
            case .payloadCR, .payloadLF:
                step = payloadEnd(bytes[index])
                index += 1
            case .chunk:
                step = chunkStart(bytes[index])
                index += 1
            }
            switch step {
            case .more:
                continue
            case .complete:
                started = false
                return .complete(consumed: index)
            case .failed(let message):
                let error = RESPError(message: message)
                failure = error
                return .error(error)
            }
        }
        return .needMore(consumed: bytes.count)
    }

    private func typeByte(_ byte: UInt8) -> Step {
        if !started {
            started = true
            kind = .unknown
            errorBytes.removeAll(keepingCapacity: true)
        }
        let topLevel = stack.isEmpty
        switch byte {
        case UInt8(ascii: "+"), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "#"), UInt8(ascii: ","),
             UInt8(ascii: "("), UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "*"), UInt8(ascii: "%"),
             UInt8(ascii: "~"):
            if topLevel { kind = .other }
        case UInt8(ascii: "-"), UInt8(ascii: "!"):
            if topLevel { kind = .error }
        case UInt8(ascii: ">"):
            if topLevel { kind = .push }
        case UInt8(ascii: "|"), UInt8(ascii: "."):
            break
        default:
            return .failed("invalid reply type byte \(Self.hex(byte)) at depth \(stack.count)")
        }
        if byte != UInt8(ascii: "|") && byte != UInt8(ascii: ".") { annotating = false }
        capturingError = topLevel && (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "!"))
        startLine(byte)
        return .more
    }

    private func startLine(_ type: UInt8) {
        lineType = type
        lineLength = 0
        number.reset()
        bigNumber = true
        phase = .line
    }

    private func line(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Step {
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == Self.cr {
                phase = .lineEnd
                return .more
            }
            lineLength += 1
            guard lineLength <= limits.maxInline else { return .failed("reply line longer than \(limits.maxInline) bytes") }
            if lineLength == 1 { lineFirst = byte }
            switch lineType {
            case UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "_"), UInt8(ascii: "#"), UInt8(ascii: "."):
                break
            case UInt8(ascii: "-"):
                if capturingError && errorBytes.count < Self.errorCapture { errorBytes.append(byte) }
            case UInt8(ascii: "("):
                let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
                let sign = lineLength == 1 && (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+"))
                if !digit && !sign { bigNumber = false }
            default:
                number.feed(byte)
            }
        }
        return .more
    }

    /// The line of `lineType` ended with `\r\n`.
    private func lineEnded() -> Step {
        let streamed = lineLength == 1 && lineFirst == UInt8(ascii: "?")
        switch lineType {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            return valueDone()
        case UInt8(ascii: ":"):
            return number.value == nil ? .failed("invalid integer reply") : valueDone()
        case UInt8(ascii: "_"):
            return lineLength == 0 ? valueDone() : .failed("null reply '_' has content")
        case UInt8(ascii: "#"):
            let boolean = lineLength == 1 && (lineFirst == UInt8(ascii: "t") || lineFirst == UInt8(ascii: "f"))
            return boolean ? valueDone() : .failed("boolean reply is neither '#t' nor '#f'")
        case UInt8(ascii: ","):
            return lineLength > 0 ? valueDone() : .failed("empty double reply")
        case UInt8(ascii: "("):
            let signed = lineFirst == UInt8(ascii: "-") || lineFirst == UInt8(ascii: "+")
            return bigNumber && lineLength > (signed ? 1 : 0) ? valueDone() : .failed("invalid big number reply")
        case UInt8(ascii: "$") where streamed:
            phase = .chunk
            return .more
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            return bulkHeader()
        case UInt8(ascii: ";"):
            guard let length = number.value, length >= 0, length <= limits.maxBulk else {
                return .failed("invalid streamed string chunk length")
            }
            // `;0` ends the streamed string.
            return length == 0 ? valueDone() : startPayload(length, type: lineType)
        case UInt8(ascii: "."):
            return streamEnd()
        default:
            return aggregateHeader(streamed: streamed)
        }
    }

    /// The header's type byte as text, for error messages only (a Character is a String: not
    /// one per reply).
    private var type: Character { Character(Unicode.Scalar(lineType)) }

    private func bulkHeader() -> Step {
        guard let length = number.value else { return .failed("invalid '\(type)' length") }
        if length == -1 && lineType == UInt8(ascii: "$") { return valueDone() }
        guard length >= 0, length <= limits.maxBulk else { return .failed("'\(type)' length \(length) out of range") }
        // `=` starts with a 3-byte format and `:` (`txt:`); the `:` is checked as it passes.
        guard lineType != UInt8(ascii: "=") || length >= 4 else { return .failed("verbatim string shorter than its format") }
        return startPayload(length, type: lineType)
    }

    private func startPayload(_ length: Int64, type: UInt8) -> Step {
        payloadLeft = Int(length)
        payloadSeen = 0
        payloadType = type
        phase = .payload
        return .more
    }

    private func aggregateHeader(streamed: Bool) -> Step {
        let attribute = lineType == UInt8(ascii: "|")
        let map = attribute || lineType == UInt8(ascii: "%")
        var elements: Int64 = 0
        if !streamed || attribute {
            guard let count = number.value else { return .failed("invalid '\(type)' length") }
            if count == -1 && lineType == UInt8(ascii: "*") { return valueDone() }
            // A map's count is of pairs; halving the maximum keeps the doubled count an Int64.
            guard count >= 0, !map || count <= Int64.max / 2 else { return .failed("'\(type)' length \(count) out of range") }
            elements = map ? count * 2 : count
        }
        guard stack.count < limits.maxDepth else { return .failed("reply nesting deeper than \(limits.maxDepth)") }
        phase = .type
        if !streamed && elements == 0 {
            guard !attribute else {
                annotating = true
                return .more
            }
            return valueDone()
        }
        stack.append(Frame(left: elements, streamed: streamed, attribute: attribute, map: map))
        return .more
    }

    /// `.\r\n`: the innermost streamed aggregate ends.
    private func streamEnd() -> Step {
        guard lineLength == 0 else { return .failed("end marker '.' has content") }
        guard let top = stack.last, top.streamed, !annotating, top.left == 0 || !top.map else {
            return .failed("unexpected end marker '.' at depth \(stack.count)")
        }
        stack.removeLast()
        return valueDone()
    }

    /// A value ended: it counts in its aggregate, which may end in turn, up to the top level.
    private func valueDone() -> Step {
        phase = .type
        while var top = stack.last {
            if top.streamed {
                top.left ^= 1
                stack[stack.count - 1] = top
                return .more
            }
            top.left -= 1
            if top.left > 0 {
                stack[stack.count - 1] = top
                return .more
            }
            stack.removeLast()
            if top.attribute {
                // An attribute is no value of its parent: the value it annotates comes next.
                annotating = true
                return .more
            }
        }
        return .complete
    }

    private func payload(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Step {
        let take = min(payloadLeft, bytes.count - index)
        if payloadType == UInt8(ascii: "=") && payloadSeen <= 3 && 3 < payloadSeen + take
            && bytes[index + 3 - payloadSeen] != UInt8(ascii: ":") {
            return .failed("verbatim string without ':' after its 3-byte format")
        }
        payloadSeen += take
        if capturingError && errorBytes.count < Self.errorCapture {
            let kept = min(take, Self.errorCapture - errorBytes.count)
            errorBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + kept]))
        }
        index += take
        payloadLeft -= take
        if payloadLeft == 0 { phase = .payloadCR }
        return .more
    }

    private func payloadEnd(_ byte: UInt8) -> Step {
        if phase == .payloadCR {
            guard byte == Self.cr else { return .failed("payload not followed by CRLF") }
            phase = .payloadLF
            return .more
        }
        guard byte == Self.lf else { return .failed("payload not followed by CRLF") }
        guard payloadType != UInt8(ascii: ";") else {
            phase = .chunk
            return .more
        }
        return valueDone()
    }

    private func chunkStart(_ byte: UInt8) -> Step {
        guard byte == UInt8(ascii: ";") else { return .failed("streamed string chunk starts with \(Self.hex(byte)), not ';'") }
        startLine(byte)
        return .more
    }

    /// `0x41`: a byte from the server may be anything, so it is shown as a number.
    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0x0\(digits)" : "0x\(digits)"
    }
}
