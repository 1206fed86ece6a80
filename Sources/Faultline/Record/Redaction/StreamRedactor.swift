import Glibc

/// Streaming redaction of one direction of one leg: fed that direction's bytes in order, in
/// arbitrary slices (a secret may be split anywhere); overwrites secret bytes in place with
/// `*`, never changes a length. No allocation per call.
///
/// Protocol-agnostic, because a `tcp` proxy in front of Redis still carries AUTH: one scanner
/// recognizes, at the start of each line,
/// - a RESP array of bulk strings (`*N`, then `$len` elements, counted by their declared length):
///   AUTH's password and HELLO's `AUTH user pass` password (`RESPSecretScanner.swift`);
/// - an inline Redis command `AUTH …` / `HELLO … AUTH user pass` (`InlineSecretScanner.swift`);
/// - an HTTP/1.x header `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`,
///   `X-Api-Key` (`HeaderSecretScanner.swift`).
/// Everything else passes untouched.
///
/// The bytes of earlier slices are already on their way to disk, so every decision is made from
/// state before the secret's bytes arrive: a few integers and one name matcher, no buffer
/// (about 130 bytes, copied per chunk by the capture).
/// Bulk payloads that are not secrets are skipped by their length and other lines by `memchr`;
/// only the first word of a line and the bytes of a secret's line go through the byte-wise
/// state machine.
///
/// Once a stream shows it is HTTP (a line starts with `HTTP/` or `Host:`), RESP framing is off
/// for good: an HTTP body that happens to contain `*1\r\n$9999\r\n` must not make the scanner skip
/// 9999 bytes that may hold the next request's `Authorization`. Scanning every body line instead
/// can over-redact a body line that looks like a secret header, which is the accepted cost.
struct StreamRedactor {
    /// What the next byte is.
    enum Mode: UInt8 {
        /// The first byte of a line, or of the next element of a RESP array.
        case lineStart
        /// The first word of a line: a header name, an inline command, or neither.
        case firstWord
        /// Whitespace between a secret header's name and its `:` (invalid HTTP, but a secret).
        case headerColon
        /// A secret header's value (`header` says which header and where in it).
        case headerValue
        /// The arguments of an inline AUTH or HELLO (`inline`).
        case inlineArguments
        /// Nothing secret up to the next LF.
        case skipLine
        /// The count of `*N\r\n`.
        case arrayCount
        /// The length of `$len\r\n`, inside an array.
        case bulkLength
        /// A bulk payload that is passed, overwritten, or compared with `SecretNames.redisWord`.
        case bulkSkip, bulkRedact, bulkMatch
        /// The CRLF after a bulk payload.
        case bulkCR, bulkLF
    }

    var mode = Mode.lineStart
    /// Set for good once the stream showed an HTTP status line or a Host header: RESP framing off.
    var httpSeen = false
    /// The line that just ended was a secret header's: a next line starting with SP/HT is an
    /// obsolete folded continuation of its value and is redacted too.
    var foldPending = false
    /// `firstWord`: no non-blank byte of the word yet (leading blanks are skipped, as Redis does).
    var leadingBlanks = true
    /// The one word being compared: a line's first word (`firstWord`, `headerColon`), an
    /// Authorization scheme, a RESP bulk or an inline argument that may be a Redis keyword. The
    /// scanners never compare two words at once, so they share it (the state is copied per chunk).
    var word = SecretNameMatch()
    /// HELLO's options, for the RESP or the inline HELLO being read (never both at once).
    var hello = HelloOptions()
    var header = HeaderValueState()
    var resp = RESPCommandState()
    var inline = InlineCommandState()

    init() {}

    /// Overwrites the secret bytes of `bytes`, the next slice of this direction, with `*`.
    mutating func redact(_ bytes: UnsafeMutableRawBufferPointer) {
        bytes.withMemoryRebound(to: UInt8.self) { buffer in
            guard let base = buffer.baseAddress else { return }
            let end = buffer.count
            var index = 0
            while index < end {
                // Runs first (a skipped line or payload, a redacted value, a whole RESP header
                // line); whatever they cannot take goes through `step` one byte at a time.
                switch mode {
                case .skipLine: index = skipLine(base, index, end)
                case .bulkSkip: index = skipBulk(index, end)
                case .bulkRedact: index = redactBulk(base, index, end)
                case .headerValue where header.phase == .rest || header.phase == .cookieValue:
                    index = redactValue(base, index, end)
                case .lineStart where !httpSeen: index = respHeaderLine(base, index, end)
                case .bulkCR: index = bulkCRLF(base, index, end)
                default:
                    step(base + index)
                    index += 1
                }
            }
        }
    }

    /// One byte through the byte-wise states.
    @inline(__always)
    mutating func step(_ byte: UnsafeMutablePointer<UInt8>) {
        switch mode {
        case .lineStart: lineStart(byte)
        case .firstWord: firstWord(byte.pointee)
        case .headerColon: headerColon(byte.pointee)
        case .headerValue: headerValue(byte)
        case .inlineArguments: inlineArgument(byte)
        case .arrayCount: arrayCount(byte.pointee)
        case .bulkLength: bulkLength(byte.pointee)
        case .bulkMatch: bulkMatch(byte.pointee)
        case .bulkCR, .bulkLF: bulkEnd(byte.pointee)
        case .skipLine, .bulkSkip, .bulkRedact: break  // handled by `redact` a run at a time
        }
    }

    /// Decides from a line's first byte which scanner reads the line.
    private mutating func lineStart(_ byte: UnsafeMutablePointer<UInt8>) {
        let value = byte.pointee
        let folded = foldPending
        foldPending = false
        if folded && (value == RedactionByte.space || value == RedactionByte.tab) {
            header.continueFolded()
            mode = .headerValue
            headerValue(byte)
            return
        }
        if !httpSeen {
            if value == RedactionByte.star {
                startArray()
                return
            }
            if value == RedactionByte.dollar && resp.inArray {
                startBulk()
                return
            }
        }
        // A command is bulk strings only: any other line inside an array (a reply's `:1`, a
        // garbage line) ends what the scanner knows of the command.
        resp.endArray()
        // Most lines start with a byte no first word can start with: pass them at once.
        let letter = (value | 0x20) &- 0x61
        let candidate = letter < 26 ? SecretNames.firstLetters >> UInt32(letter) & 1 != 0 : value <= RedactionByte.space
        guard candidate else {
            mode = .skipLine
            return
        }
        leadingBlanks = true
        word.start(SecretNames.firstWord)
        mode = .firstWord
        firstWord(value)
    }

    /// The first word of a line, compared with the secret header names and inline commands.
    private mutating func firstWord(_ byte: UInt8) {
        switch byte {
        case RedactionByte.lf:
            mode = .lineStart
        case RedactionByte.space, RedactionByte.tab, RedactionByte.cr, RedactionByte.verticalTab, RedactionByte.formFeed:
            if leadingBlanks { return }
            switch word.completed(SecretNames.firstWord) {
            case SecretNames.auth?: startInline(isAuth: true)
            case SecretNames.hello?: startInline(isAuth: false)
            case .some: mode = .headerColon  // `Cookie :` is refused by servers, but it is a secret
            case nil: mode = .skipLine
            }
        case RedactionByte.colon:
            headerColon(byte)
        default:
            leadingBlanks = false
            guard word.feed(byte, SecretNames.firstWord) else {
                mode = .skipLine
                return
            }
            if word.completed(SecretNames.firstWord) == SecretNames.http {
                httpSeen = true
                mode = .skipLine
            }
        }
    }

    /// After a header name: blanks, then `:` starts the value if the name is a secret one.
    private mutating func headerColon(_ byte: UInt8) {
        switch byte {
        case RedactionByte.space, RedactionByte.tab:
            return
        case RedactionByte.lf:
            mode = .lineStart
        case RedactionByte.colon:
            switch word.completed(SecretNames.firstWord) {
            case SecretNames.authorization?, SecretNames.proxyAuthorization?: startHeader(.authorization)
            case SecretNames.cookie?: startHeader(.cookie)
            case SecretNames.setCookie?: startHeader(.setCookie)
            case SecretNames.apiKey?: startHeader(.apiKey)
            case SecretNames.host?:
                httpSeen = true
                mode = .skipLine
            default:
                mode = .skipLine
            }
        default:
            mode = .skipLine
        }
    }

    /// Passes bytes up to and including the next LF.
    @inline(__always)
    private mutating func skipLine(_ base: UnsafeMutablePointer<UInt8>, _ index: Int, _ end: Int) -> Int {
        guard let lf = memchr(base + index, Int32(RedactionByte.lf), end - index) else { return end }
        mode = .lineStart
        return UnsafeMutableRawPointer(base).distance(to: lf) + 1
    }
}

/// The bytes the scanners look for.
enum RedactionByte {
    static let lf: UInt8 = 0x0A, cr: UInt8 = 0x0D, space: UInt8 = 0x20, tab: UInt8 = 0x09
    static let verticalTab: UInt8 = 0x0B, formFeed: UInt8 = 0x0C, nul: UInt8 = 0x00
    static let star: UInt8 = 0x2A, dollar: UInt8 = 0x24, minus: UInt8 = 0x2D, colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B, equals: UInt8 = 0x3D, backslash: UInt8 = 0x5C
    static let doubleQuote: UInt8 = 0x22, singleQuote: UInt8 = 0x27
    /// What a secret byte becomes.
    static let mask: UInt8 = 0x2A
}
