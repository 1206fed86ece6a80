/// What the redactor knows of the RESP command it is inside: which command, which element is
/// next, and where its password is.
///
/// No stack of nested arrays (hiredis keeps one to parse replies): a command is one flat array
/// of bulk strings, so anything else inside an array (a nested `*`, a reply's `:1`, RESP3 types)
/// just ends what the scanner knows, and the next `*` starts over. Over-redaction in replies
/// (an array reply holding a bulk `AUTH` and then another bulk) is possible and harmless.
struct RESPCommandState {
    enum Command: UInt8 {
        /// Not inside an array.
        case none
        /// Inside an array whose first element is not (yet known to be) AUTH or HELLO.
        case other
        case auth
        case hello
    }

    var command = Command.none
    /// Elements declared by `*N`, and the index of the element now read.
    var count = 0
    var index = 0
    /// The `N` or `len` being read.
    var length = RESPLength()
    /// Payload bytes of the current bulk still to come.
    var remaining = 0
    /// The current bulk is compared with `SecretNames.redisWord` (in the redactor's `word`).
    var matching = false

    var inArray: Bool { command != .none }

    mutating func endArray() { command = .none }

    /// Whether element `index` of the current command is a password.
    func isPassword(_ index: Int, hello: HelloOptions) -> Bool {
        switch command {
        case .auth:
            // AUTH pass | AUTH user pass; a longer AUTH is refused by Redis, but its arguments
            // may still be secrets: all of them go.
            return count == 2 ? index == 1 : count == 3 ? index == 2 : count > 3 && index >= 1
        case .hello:
            return index == hello.password
        case .none, .other:
            return false
        }
    }

    /// Whether element `index`, `length` bytes long, could be a word the scanner must know:
    /// the command's name, or a HELLO option keyword.
    func wantsWord(_ index: Int, length: Int, hello: HelloOptions) -> Bool {
        if index == 0 { return length == 4 || length == 5 }
        return command == .hello && index == hello.next && (length == 4 || length == 7)
    }
}

/// HELLO's options as Redis reads them: from argument 2 on, `AUTH user pass` takes the next
/// two arguments, `SETNAME name` the next one. Following Redis's own walk (rather than taking
/// any `AUTH` argument as the keyword) keeps a user or client named `AUTH` from moving the
/// password. An unknown option makes Redis refuse the command, but the scanner walks on so that
/// a later `AUTH user pass` is still redacted. Shared by the RESP and inline forms.
struct HelloOptions {
    /// The index of the argument read as the next option keyword. Starts at 1 (the protocol
    /// version), so that a `HELLO AUTH user pass` without a version, which Redis refuses, is
    /// redacted too.
    var next = 1
    /// The index of the password argument, or -1.
    var password = -1

    mutating func argument(_ index: Int, word: Int?) {
        guard index == next else { return }
        switch word {
        case SecretNames.wordAuth?:
            password = index + 2
            next = index + 3
        case SecretNames.wordSetname?:
            next = index + 2
        default:
            next = index + 1
        }
    }
}

/// The decimal of a `*N\r\n` or `$len\r\n` line, fed one byte at a time, overflow-checked
/// against a limit (a `$99999999999999999999` is garbage, not a trap).
struct RESPLength {
    enum Step { case more, done, invalid }

    var value = 0
    var digits = 0
    var negative = false
    var sawCR = false

    mutating func feed(_ byte: UInt8, limit: Int) -> Step {
        if sawCR { return byte == RedactionByte.lf && digits > 0 ? .done : .invalid }
        switch byte {
        case 0x30...0x39:
            let digit = Int(byte &- 0x30)
            guard value <= (limit - digit) / 10 else { return .invalid }
            value = value * 10 + digit
            digits += 1
            return .more
        case RedactionByte.minus where digits == 0 && !negative:
            negative = true
            return .more
        case RedactionByte.cr:
            sawCR = true
            return .more
        default:
            return .invalid
        }
    }
}

/// RESP arrays of bulk strings, the form every Redis client library sends commands in.
extension StreamRedactor {
    /// Counts above this are garbage. Redis refuses more than 1M arguments per command; replies
    /// may be longer arrays, and any count the scanner keeps only counts down.
    static let maximumArrayCount = 1 << 32
    /// Lengths above this are garbage (Redis's proto-max-bulk-len defaults to 512 MB).
    static let maximumBulkLength = 1 << 40

    /// Starts reading `*N\r\n`, at its `*`. A new array ends any command the scanner was in.
    mutating func startArray() {
        resp.endArray()
        resp.length = RESPLength()
        mode = .arrayCount
    }

    /// Starts reading `$len\r\n` inside an array, at its `$`.
    mutating func startBulk() {
        resp.length = RESPLength()
        mode = .bulkLength
    }

    mutating func arrayCount(_ byte: UInt8) {
        switch resp.length.feed(byte, limit: Self.maximumArrayCount) {
        case .more:
            return
        case .done:
            arrayHeaderDone(count: resp.length.negative ? -1 : resp.length.value)
        case .invalid:
            respGarbage(byte)
        }
    }

    mutating func bulkLength(_ byte: UInt8) {
        switch resp.length.feed(byte, limit: Self.maximumBulkLength) {
        case .more:
            return
        case .invalid:
            respGarbage(byte)
        case .done where resp.length.negative:
            // `$-1`, a null bulk (replies only): an element without payload.
            elementDone()
            mode = .lineStart
        case .done:
            bulkHeaderDone(length: resp.length.value)
        }
    }

    /// After `*N\r\n`: `*0` and `*-1` (a null array, in replies) hold no command.
    private mutating func arrayHeaderDone(count: Int) {
        if count > 0 {
            resp.command = .other
            resp.count = count
            resp.index = 0
        }
        mode = .lineStart
    }

    /// After `$len\r\n`: decide from what the command is so far whether the payload is passed,
    /// overwritten, or compared with the Redis keywords.
    private mutating func bulkHeaderDone(length: Int) {
        resp.remaining = length
        resp.matching = false
        if resp.isPassword(resp.index, hello: hello) {
            mode = .bulkRedact
        } else if resp.wantsWord(resp.index, length: length, hello: hello) {
            resp.matching = true
            word.start(SecretNames.redisWord)
            mode = .bulkMatch
        } else {
            mode = .bulkSkip
        }
        if length == 0 { mode = .bulkCR }
    }

    /// At a line start outside HTTP: a whole `*N\r\n` or `$len\r\n` (inside an array) within this
    /// slice is read in one go; anything else (split across slices, signed, garbage, not RESP)
    /// goes to the byte-wise states, which reach the same state.
    @inline(__always)
    mutating func respHeaderLine(_ base: UnsafeMutablePointer<UInt8>, _ index: Int, _ end: Int) -> Int {
        let first = base[index]
        if first == RedactionByte.star || (first == RedactionByte.dollar && resp.inArray) {
            // 13 digits hold either limit; a longer run fails the CR test and is read byte-wise.
            var next = index + 1
            var value = 0
            let digitsEnd = min(end, next + 13)
            while next < digitsEnd, base[next] &- 0x30 < 10 {
                value = value &* 10 &+ Int(base[next] &- 0x30)
                next += 1
            }
            let limit = first == RedactionByte.star ? Self.maximumArrayCount : Self.maximumBulkLength
            if next > index + 1 && next + 1 < end && base[next] == RedactionByte.cr
                && base[next + 1] == RedactionByte.lf && value <= limit
            {
                foldPending = false  // as `lineStart` would have done
                if first == RedactionByte.star {
                    resp.endArray()
                    arrayHeaderDone(count: value)
                } else {
                    bulkHeaderDone(length: value)
                }
                return next + 2
            }
        }
        step(base + index)
        return index + 1
    }

    /// The CRLF after a payload, both bytes at once when the slice has them.
    @inline(__always)
    mutating func bulkCRLF(_ base: UnsafeMutablePointer<UInt8>, _ index: Int, _ end: Int) -> Int {
        if index + 1 < end && base[index] == RedactionByte.cr && base[index + 1] == RedactionByte.lf {
            elementDone()
            mode = .lineStart
            return index + 2
        }
        step(base + index)
        return index + 1
    }

    /// Passes a run of a non-secret payload without looking at it.
    @inline(__always)
    mutating func skipBulk(_ index: Int, _ end: Int) -> Int {
        let run = min(resp.remaining, end - index)
        resp.remaining -= run
        if resp.remaining == 0 { mode = .bulkCR }
        return index + run
    }

    /// Overwrites a run of a password's payload, whatever its bytes (CR, LF, anything).
    @inline(__always)
    mutating func redactBulk(_ base: UnsafeMutablePointer<UInt8>, _ index: Int, _ end: Int) -> Int {
        let run = min(resp.remaining, end - index)
        (base + index).update(repeating: RedactionByte.mask, count: run)
        resp.remaining -= run
        if resp.remaining == 0 { mode = .bulkCR }
        return index + run
    }

    /// One byte of a short payload that may be AUTH, HELLO or SETNAME.
    mutating func bulkMatch(_ byte: UInt8) {
        _ = word.feed(byte, SecretNames.redisWord)
        resp.remaining -= 1
        if resp.remaining == 0 { mode = .bulkCR }
    }

    /// The CRLF after a payload. Redis takes these two bytes without looking; the scanner checks
    /// them, so that a stream that only looked like RESP falls back to lines quickly.
    mutating func bulkEnd(_ byte: UInt8) {
        if mode == .bulkCR && byte == RedactionByte.cr {
            mode = .bulkLF
        } else if mode == .bulkLF && byte == RedactionByte.lf {
            elementDone()
            mode = .lineStart
        } else {
            respGarbage(byte)
        }
    }

    /// An element has been read: learn the command from element 0 and HELLO's options from the
    /// keywords, and leave the array after its last element.
    private mutating func elementDone() {
        let word = resp.matching ? word.completed(SecretNames.redisWord) : nil
        resp.matching = false
        if resp.index == 0 {
            switch word {
            case SecretNames.wordAuth?: resp.command = .auth
            case SecretNames.wordHello?: resp.command = .hello
            default: resp.command = .other
            }
            hello = HelloOptions()
        } else if resp.command == .hello {
            hello.argument(resp.index, word: word)
        }
        resp.index += 1
        if resp.index >= resp.count { resp.endArray() }
    }

    /// Not RESP after all: forget the command and read the rest as an ordinary line.
    private mutating func respGarbage(_ byte: UInt8) {
        resp.endArray()
        mode = byte == RedactionByte.lf ? .lineStart : .skipLine
    }
}
