/// What one `RESPCommandFramer.scan` found.
enum CommandScan: Equatable {
    /// Every byte given was consumed (consumed == bytes.count) and the command is not finished.
    case needMore(consumed: Int)
    /// The command is not finished, but it is now worth deciding on: `command` holds what was
    /// captured. Reached once per command at most, the first time any of these holds: the next
    /// argument's declared length exceeds `decideAfter` (a large value follows), or
    /// `captureArguments` arguments have been captured and more follow, or the command's bytes
    /// so far exceed `decideAfter`. `consumed` bytes (≤ bytes.count) were consumed; call scan
    /// again with the rest to go on.
    case head(consumed: Int)
    /// The command ended after `consumed` bytes of this call; `command` holds it. The next scan
    /// starts a new command.
    case complete(consumed: Int)
    /// Garbage: the connection must end. The framer stays failed (every later scan returns the
    /// same error).
    case error(RESPError)
}

/// Frames the commands a client sends a Redis server, the way Redis 7.0's `networking.c`
/// (`processMultibulkBuffer`, `processInlineBuffer`) reads them, without holding them: bytes
/// arrive split anywhere and only the first bytes of the first arguments are kept, so a 512 MB
/// value streams through at the cost of a counter. What Redis would refuse is an error with
/// Redis's own words, so a proxy can answer as the server would and close.
///
/// Where Redis reads leniently the framer is stricter, because a proxy that frames a byte
/// differently from the server is out of step with it from then on:
/// - a header line's `\r` must be followed by `\n` (Redis skips any byte): otherwise
///   `invalid multibulk length` or `invalid bulk length`;
/// - a bulk payload must be followed by `\r\n` (Redis skips two bytes unread): otherwise
///   `invalid bulk length`, as the declared length did not match the data;
/// - limits apply to the bytes themselves, not to what one read(2) happened to bring: a header
///   line longer than `maxInline` without `\r`, or an inline line longer than it without `\n`,
///   is an error however the bytes were split.
/// Where Redis's reading has a quirk, the framer has it too: Redis finds a line's end with
/// `strchr`, which stops at a NUL byte, so a header or inline line holding a NUL never ends for
/// Redis — it waits for more and fails as too big past `maxInline`, and so does the framer.
///
/// Redis's checks that depend on the client (`unauthenticated multibulk length`, a master's
/// unlimited bulk length) are the caller's to make.
final class RESPCommandFramer {
    private enum Phase: UInt8 {
        /// Between commands: the next byte picks multibulk (`*`) or inline.
        case start
        /// `*N`, after the `*`.
        case countLine
        /// The byte after the count line's `\r`.
        case countEnd
        /// `$L` of the next argument.
        case bulkLine
        /// The byte after the bulk line's `\r`.
        case bulkEnd
        /// The argument's bytes.
        case payload
        case payloadCR
        case payloadLF
        /// An inline command's line.
        case inline
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    private let limits: RESPLimits
    /// The command being scanned (valid after .head/.complete until the next scan that starts a
    /// new command).
    let command: RESPCommand
    private var phase = Phase.start
    private var failure: RESPError?
    /// The count or length of the header line being read.
    private var number = RESPInteger()
    /// Bytes of the current header or inline line so far, `\r` and `\n` excluded.
    private var lineLength = 0
    /// The first byte of a bulk header line: Redis checks it is `$` once the line is whole.
    private var lineFirst: UInt8 = 0
    /// The current line holds a NUL: Redis's `strchr` will never find its end.
    private var lineHasNUL = false
    private var argumentsLeft: Int64 = 0
    private var payloadLeft = 0
    /// Bytes of this command so far; counted only until `.head`, whose third rule it serves.
    private var commandBytes = 0
    private var headReached = false
    private var splitter = RESPInlineSplitter()

    init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
        command = RESPCommand(limits: limits)
    }

    /// True between commands (no byte of the next command scanned yet).
    var atBoundary: Bool { phase == .start && failure == nil }

    /// Scans `bytes`, which continue where the last scan's consumed bytes ended, up to the next
    /// event. An empty command (`*0\r\n`, `*-1\r\n`, a blank line) is skipped as Redis skips it.
    func scan(_ bytes: UnsafeRawBufferPointer) -> CommandScan {
        if let failure { return .error(failure) }
        var index = 0
        while index < bytes.count {
            let event: CommandScan?
            switch phase {
            case .start:
                begin(bytes[index])
                event = nil
            case .countLine:
                event = countLine(bytes, &index)
            case .countEnd:
                event = countEnd(bytes[index], &index)
            case .bulkLine:
                event = bulkLine(bytes, &index)
            case .bulkEnd:
                event = bulkEnd(bytes[index], &index)
            case .payload:
                event = payload(bytes, &index)
            case .payloadCR, .payloadLF:
                event = payloadEnd(bytes[index], &index)
            case .inline:
                event = inline(bytes, &index)
            }
            if let event { return event }
        }
        return .needMore(consumed: bytes.count)
    }

    /// The first byte of a command; left for the inline phase to read unless it is `*`.
    private func begin(_ byte: UInt8) {
        let multibulk = byte == UInt8(ascii: "*")
        command.reset(inline: !multibulk)
        commandBytes = 0
        headReached = false
        lineLength = 0
        lineHasNUL = false
        number.reset()
        splitter.reset()
        phase = multibulk ? .countLine : .inline
    }

    private func countLine(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> CommandScan? {
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            count(1)
            if byte == Self.cr && !lineHasNUL {
                phase = .countEnd
                return nil
            }
            // The `*` counts: Redis measures the buffer from the line's first byte.
            lineLength += 1
            guard lineLength <= limits.maxInline else { return fail("Protocol error: too big mbulk count string") }
            if byte == 0 { lineHasNUL = true }
            if lineLength > 1 { number.feed(byte) }
        }
        return nil
    }

    private func countEnd(_ byte: UInt8, _ index: inout Int) -> CommandScan? {
        index += 1
        count(1)
        guard byte == Self.lf, let declared = number.value, declared <= limits.maxArguments else {
            return fail("Protocol error: invalid multibulk length")
        }
        guard declared > 0 else {
            // Redis resets the client and reads on: nothing to frame, nothing to report.
            phase = .start
            return nil
        }
        argumentsLeft = declared
        command.declare(Int(declared))
        startBulkLine()
        return command.capturedCount >= limits.captureArguments ? head(index) : nil
    }

    private func startBulkLine() {
        phase = .bulkLine
        lineLength = 0
        lineHasNUL = false
        number.reset()
    }

    private func bulkLine(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> CommandScan? {
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            count(1)
            if byte == Self.cr && !lineHasNUL {
                // An empty line's "first byte" is its `\r`, which Redis reports as ' '.
                if lineLength == 0 { lineFirst = byte }
                phase = .bulkEnd
                return sizeHead(index)
            }
            lineLength += 1
            guard lineLength <= limits.maxInline else { return fail("Protocol error: too big bulk count string") }
            if byte == 0 { lineHasNUL = true }
            if lineLength == 1 {
                lineFirst = byte
            } else {
                number.feed(byte)
            }
            if let event = sizeHead(index) { return event }
        }
        return nil
    }

    private func bulkEnd(_ byte: UInt8, _ index: inout Int) -> CommandScan? {
        index += 1
        count(1)
        guard lineFirst == UInt8(ascii: "$") else {
            return fail("Protocol error: expected '$', got '\(Self.character(lineFirst))'")
        }
        guard byte == Self.lf, let length = number.value, length >= 0, length <= limits.maxBulk else {
            return fail("Protocol error: invalid bulk length")
        }
        payloadLeft = Int(length)
        command.beginArgument(length: length)
        phase = .payload
        return length > Int64(limits.decideAfter) ? head(index) : sizeHead(index)
    }

    private func payload(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> CommandScan? {
        var take = min(payloadLeft, bytes.count - index)
        if !headReached && take > 0 {
            // Stop where the command outgrows `decideAfter`, so `.head` falls on the same byte
            // however the input was split. No `decideAfter + 1`: it may be Int.max.
            let room = commandBytes > limits.decideAfter ? 0 : limits.decideAfter - commandBytes
            take = min(take - 1, room) + 1
        }
        command.append(UnsafeRawBufferPointer(rebasing: bytes[index..<index + take]))
        index += take
        payloadLeft -= take
        count(take)
        if payloadLeft == 0 { phase = .payloadCR }
        return sizeHead(index)
    }

    private func payloadEnd(_ byte: UInt8, _ index: inout Int) -> CommandScan? {
        index += 1
        count(1)
        if phase == .payloadCR {
            guard byte == Self.cr else { return fail("Protocol error: invalid bulk length") }
            phase = .payloadLF
            return sizeHead(index)
        }
        guard byte == Self.lf else { return fail("Protocol error: invalid bulk length") }
        command.endArgument()
        argumentsLeft -= 1
        guard argumentsLeft > 0 else {
            phase = .start
            return .complete(consumed: index)
        }
        startBulkLine()
        return command.capturedCount >= limits.captureArguments ? head(index) : sizeHead(index)
    }

    private func inline(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> CommandScan? {
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            count(1)
            if byte == Self.lf && !lineHasNUL {
                guard splitter.finish(into: command) else {
                    return fail("Protocol error: unbalanced quotes in request")
                }
                phase = .start
                // A blank line splits into nothing; Redis skips it.
                return command.argumentCount > 0 ? .complete(consumed: index) : nil
            }
            lineLength += 1
            guard lineLength <= limits.maxInline else { return fail("Protocol error: too big inline request") }
            if byte == 0 { lineHasNUL = true }
            splitter.feed(byte, into: command)
            // Inline arguments are counted as they begin: this byte began one too many.
            if command.argumentCount > limits.captureArguments, let event = head(index) { return event }
            if let event = sizeHead(index) { return event }
        }
        return nil
    }

    /// `.head` the first time it is due in this command, else nil.
    private func head(_ index: Int) -> CommandScan? {
        guard !headReached else { return nil }
        headReached = true
        return .head(consumed: index)
    }

    /// `.head` when the command's bytes exceed `decideAfter`.
    private func sizeHead(_ index: Int) -> CommandScan? {
        commandBytes > limits.decideAfter ? head(index) : nil
    }

    /// Past `.head` the count serves nothing, and stopping it keeps a huge command from
    /// overflowing it.
    private func count(_ bytes: Int) {
        if !headReached { commandBytes += bytes }
    }

    private func fail(_ message: String) -> CommandScan {
        let error = RESPError(message: message)
        failure = error
        return .error(error)
    }

    /// A byte as Redis's `%c` prints it into an error, which then has `\r` and `\n` replaced by
    /// spaces; other bytes are taken as Latin-1, Redis sends them raw.
    private static func character(_ byte: UInt8) -> Character {
        byte == cr || byte == lf ? " " : Character(Unicode.Scalar(byte))
    }
}
