/// The error replies `redis.reject_auth` and `redis.error` send: Redis 7.0.15's own texts by
/// their code, or a text of the user's.
enum RedisErrorText {
    /// Each preset's code and the text Redis 7.0.15 sends for it (after the `-`).
    static let presets: [(code: String, text: String)] = [
        ("NOAUTH", "NOAUTH Authentication required."),
        ("WRONGPASS", "WRONGPASS invalid username-password pair or user is disabled."),
        ("LOADING", "LOADING Redis is loading the dataset in memory"),
        ("READONLY", "READONLY You can't write against a read only replica."),
        ("OOM", "OOM command not allowed when used memory > 'maxmemory'."),
        ("BUSY", "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."),
        ("MASTERDOWN", "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
        ("CLUSTERDOWN", "CLUSTERDOWN The cluster is down"),
        ("TRYAGAIN", "TRYAGAIN Multiple keys request during rehashing of slot"),
    ]

    /// Codes whose text names the key's cluster slot and a node: `MOVED 3999 127.0.0.1:6381`.
    static let redirections = ["MOVED", "ASK"]

    /// The codes `error` takes as presets, for help texts.
    static var codes: [String] { presets.map(\.code) + redirections }

    /// The reply text for `error`: a preset's text when `error` is a code (any case), else
    /// `error` itself, with `ERR ` in front when it does not start with an upper-case code,
    /// as Redis's addReplyError writes it. Nil for a redirection code (it needs a slot and a
    /// node, see `redirection`).
    static func text(for given: String) -> String? {
        // `-ERR x` as written on the wire: the dash is the reply's type, not its text.
        let error = given.hasPrefix("-") ? String(given.dropFirst()) : given
        let upper = error.uppercased()
        if let preset = presets.first(where: { $0.code == upper }) { return preset.text }
        if redirections.contains(upper) { return nil }
        return startsWithCode(error) ? error : "ERR \(error)"
    }

    /// `MOVED <slot> <node>` for `key`, the slot computed as Redis Cluster does.
    static func redirection(_ code: String, key: ArraySlice<UInt8>, to node: String) -> String {
        "\(code.uppercased()) \(RedisKeySlot.slot(of: key)) \(node)"
    }

    /// Why `error` cannot be sent, if it cannot: a reply line holds no CR or LF.
    static func problem(with error: String) -> String? {
        // Unicode scalars: "\r\n" is one Character, equal to neither "\r" nor "\n".
        if error.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            return "'\(error)' holds a line break; an error reply is one line"
        }
        return nil
    }

    /// Whether the text's first word is an error code (upper-case letters and digits).
    private static func startsWithCode(_ text: String) -> Bool {
        let word = text.prefix { $0 != " " }
        return !word.isEmpty && word.allSatisfy { ($0.isASCII && $0.isUppercase) || ($0.isASCII && $0.isNumber) || $0 == "_" }
            && word.first?.isLetter == true
    }
}

/// Redis Cluster's key → slot mapping: CRC16 (XMODEM) of the key, or of its hash tag (the
/// text between the first `{` and the next `}` when not empty), modulo 16384.
enum RedisKeySlot {
    static func slot(of key: ArraySlice<UInt8>) -> Int {
        var hashed = key
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            hashed = key[(open + 1)..<close]
        }
        return Int(crc16(hashed) & 0x3FFF)
    }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis's crc16.c.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}
