/// `client_rejects_certificate: true`: the client aborts the TLS handshake on a bad
/// certificate instead of sending data (it did not turn verification off).
///
/// Judging it needs handshake events from a proxy that terminates TLS, which faultline does
/// not have yet. Until then the verdict is an error, never a pass: a check that cannot be
/// made must not let a client that skips verification through.
enum ClientRejectsCertificate: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "client_rejects_certificate",
        summary: "The client aborts the TLS handshake instead of sending data. Needs a proxy with `tls:`; "
            + "until TLS proxies exist it is reported as an error (not evaluated), never as a pass.",
        parameters: [.init("enabled", .flag, "must be true", example: "true")],
        scalarParameter: "enabled",
        example: "- proxy: tracing\n  client_rejects_certificate: true")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        try context.requireTrue("enabled")
        return .error("client_rejects_certificate: not evaluated (needs a TLS proxy)")
    }
}
