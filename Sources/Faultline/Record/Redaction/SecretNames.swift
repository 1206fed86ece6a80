/// The words the redactor recognizes, and a matcher that compares a word with all of them at
/// once as its bytes stream past.
///
/// The matcher holds a bit per candidate name and a position instead of a buffer of the word:
/// the word's bytes may arrive over several `redact` calls, earlier slices are already written,
/// and a bitmask is a fixed few bytes of state that cannot grow with a long word. A word longer
/// than every name kills every bit, which is the "give up on over-long names" rule for free.
///
/// A table is one `StaticString` of lowercase names, each padded with `A` to `stride` bytes:
/// reading it is a pointer and an offset (no array, no reference counting, no lazy global on
/// the hot path), and `A` can never equal an input byte folded to lowercase, so the padding both
/// ends a name and fails any longer word.
struct SecretNameTable {
    let bytes: StaticString
    let stride: Int
    /// A bit for every name.
    let all: UInt32

    init(stride: Int, _ bytes: StaticString) {
        let count = bytes.utf8CodeUnitCount / stride
        assert(count <= 32 && count * stride == bytes.utf8CodeUnitCount, "names padded to the stride")
        self.bytes = bytes
        self.stride = stride
        all = count == 0 ? 0 : UInt32.max >> (32 - count)
    }

    static let padding = UInt8(ascii: "A")

    /// Name `index`, without its padding (for tests and messages).
    func name(_ index: Int) -> String {
        let start = bytes.utf8Start + index * stride
        let length = (0..<stride).first { start[$0] == Self.padding } ?? stride
        return String(decoding: UnsafeBufferPointer(start: start, count: length), as: UTF8.self)
    }
}

/// A word compared with a `SecretNameTable`'s names one byte at a time, ASCII letters ignoring case.
struct SecretNameMatch {
    /// Bit i: the bytes fed so far are a prefix of name i.
    private(set) var alive: UInt32 = 0
    /// Bytes fed since `start` (wraps after 4 GiB of one word, when every bit is long dead).
    private(set) var position: UInt32 = 0

    mutating func start(_ table: SecretNameTable) {
        alive = table.all
        position = 0
    }

    /// Feeds the word's next byte; returns whether it is still a prefix of some name.
    @inline(__always)
    mutating func feed(_ byte: UInt8, _ table: SecretNameTable) -> Bool {
        // Only letters fold: `|` (0x7C) must not match `\` (0x5C).
        let lower = byte &- 0x41 < 26 ? byte | 0x20 : byte
        let column = Int(position)
        position &+= 1
        guard column < table.stride else {
            alive = 0
            return false
        }
        let names = table.bytes.utf8Start + column
        var rest = alive
        var kept: UInt32 = 0
        while rest != 0 {
            let index = rest.trailingZeroBitCount
            rest &= rest &- 1
            if names[index * table.stride] == lower { kept |= 1 << UInt32(index) }
        }
        alive = kept
        return kept != 0
    }

    /// The index of the name the fed bytes spell exactly, if any.
    func completed(_ table: SecretNameTable) -> Int? {
        let column = Int(position)
        guard column <= table.stride else { return nil }
        var rest = alive
        while rest != 0 {
            let index = rest.trailingZeroBitCount
            if column == table.stride || table.bytes.utf8Start[index * table.stride + column] == SecretNameTable.padding {
                return index
            }
            rest &= rest &- 1
        }
        return nil
    }
}

/// The tables, and each name's index in its table.
enum SecretNames {
    /// The first word of a line: a header name (followed by `:`), an inline Redis command
    /// (followed by whitespace), or a sign that the stream is HTTP (`HTTP/` starts a status
    /// line; `Host:` is in every HTTP/1.1 request and Redis drops a client that sends it).
    static var firstWord: SecretNameTable {
        SecretNameTable(stride: 20, """
            authorizationAAAAAAA\
            proxy-authorizationA\
            cookieAAAAAAAAAAAAAA\
            set-cookieAAAAAAAAAA\
            x-api-keyAAAAAAAAAAA\
            hostAAAAAAAAAAAAAAAA\
            authAAAAAAAAAAAAAAAA\
            helloAAAAAAAAAAAAAAA\
            http/AAAAAAAAAAAAAAA
            """)
    }
    static let authorization = 0, proxyAuthorization = 1, cookie = 2, setCookie = 3, apiKey = 4
    static let host = 5, auth = 6, hello = 7, http = 8
    /// Bit i: some first word starts with letter `a` + i (a c h p s x). Lines starting with any
    /// other letter are passed without feeding the matcher.
    static let firstLetters: UInt32 = 1 << 0 | 1 << 2 | 1 << 7 | 1 << 15 | 1 << 18 | 1 << 23

    /// Redis words compared inside a command: its name, and HELLO's option keywords.
    static var redisWord: SecretNameTable {
        SecretNameTable(stride: 8, """
            authAAAA\
            helloAAA\
            setnameA
            """)
    }
    static let wordAuth = 0, wordHello = 1, wordSetname = 2

    /// Authorization schemes (IANA's registry and common private ones) whose name is kept in
    /// `Authorization: <scheme> ****`. A first word that stops being a prefix of one of these is
    /// redacted from that byte on: some APIs take a bare token (`Authorization: sk-…`) and the
    /// redactor cannot wait for the space to learn whether the word was a scheme.
    static var schemes: SecretNameTable {
        SecretNameTable(stride: 16, """
            basicAAAAAAAAAAA\
            bearerAAAAAAAAAA\
            digestAAAAAAAAAA\
            negotiateAAAAAAA\
            ntlmAAAAAAAAAAAA\
            tokenAAAAAAAAAAA\
            oauthAAAAAAAAAAA\
            aws4-hmac-sha256\
            dpopAAAAAAAAAAAA\
            gnapAAAAAAAAAAAA\
            hobaAAAAAAAAAAAA\
            mutualAAAAAAAAAA\
            scram-sha-1AAAAA\
            scram-sha-256AAA\
            vapidAAAAAAAAAAA\
            hawkAAAAAAAAAAAA\
            apikeyAAAAAAAAAA\
            botAAAAAAAAAAAAA
            """)
    }
}
