import CEvent

/// Writes the replies faultline makes up. Only errors for now: they read the same in RESP2
/// and RESP3 (a simple error, `-CODE text\r\n`), so HELLO 3 changes nothing in them.
enum RESPEncoder {
    /// Appends `-text\r\n` to `buffer`; `text` holds no CR or LF (checked when the fault was made).
    static func error(_ text: String, into buffer: OpaquePointer) {
        var line = "-" + text + "\r\n"
        line.withUTF8 { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
    }

    /// Appends `-ERR <message>\r\n` for a client's protocol error, each character of `message`
    /// as the one byte it stands for: `RESPError` quotes the offending byte as a Latin-1
    /// character, and Redis sends that byte raw (`expected '$', got '\x8f'`).
    static func protocolError(_ message: String, into buffer: OpaquePointer) {
        let bytes = Array("-ERR ".utf8) + message.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } + [13, 10]
        _ = evbuffer_add(buffer, bytes, bytes.count)
    }
}
