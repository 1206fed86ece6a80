/// TLS alert descriptions by their RFC 8446 / IANA names: what `tls.alert` sends and how a
/// client's own alert (the reason it aborted a handshake) is named in events.
enum TLSAlert {
    /// Name → code, for the fatal alerts a server or client sends during a handshake.
    static let codes: [(name: String, code: UInt8)] = [
        ("unexpected_message", 10), ("bad_record_mac", 20), ("record_overflow", 22),
        ("handshake_failure", 40), ("bad_certificate", 42), ("unsupported_certificate", 43),
        ("certificate_revoked", 44), ("certificate_expired", 45), ("certificate_unknown", 46),
        ("illegal_parameter", 47), ("unknown_ca", 48), ("access_denied", 49), ("decode_error", 50),
        ("decrypt_error", 51), ("protocol_version", 70), ("insufficient_security", 71),
        ("internal_error", 80), ("inappropriate_fallback", 86), ("user_canceled", 90),
        ("missing_extension", 109), ("unsupported_extension", 110), ("unrecognized_name", 112),
        ("bad_certificate_status_response", 113), ("unknown_psk_identity", 115),
        ("certificate_required", 116), ("no_application_protocol", 120),
    ]

    /// The names `tls.alert` accepts.
    static var names: [String] { codes.map(\.name) }

    static func code(named name: String) -> UInt8? { codes.first { $0.name == name }?.code }

    /// The alert's name, or `alert N` for a code outside the table. close_notify (0) is no
    /// fatal alert, so `tls.alert` does not send it, but a peer may.
    static func name(of code: UInt8) -> String {
        code == 0 ? "close_notify" : codes.first { $0.code == code }?.name ?? "alert \(code)"
    }
}
