/// Limits a framer enforces (Redis 7's own where it has one). A framer on the path between a
/// stranger and a server must refuse what the server would refuse, and must never let a declared
/// size or count make it allocate: sizes here only bound what is counted, never what is held.
struct RESPLimits: Sendable {
    /// Reply aggregate nesting (arrays, maps, sets, pushes and attributes inside each other).
    var maxDepth = 128
    /// Redis's `proto-max-bulk-len`: a larger `$N` is an error.
    var maxBulk: Int64 = 512 * 1024 * 1024
    /// The largest `*N` of a command; Redis refuses anything above `INT_MAX`.
    var maxArguments = Int64(Int32.max)
    /// Inline command and header line length (Redis's `PROTO_INLINE_MAX_SIZE`); also caps reply
    /// lines, which Redis never makes long.
    var maxInline = 64 * 1024
    /// At most this many leading arguments of a command are captured.
    var captureArguments = 64
    /// At most this many bytes of each captured argument are captured.
    var captureBytes = 1024
    /// When a command is worth deciding on before it ends; see `CommandScan.head`.
    var decideAfter = 64 * 1024

    init() {}
}

/// A protocol error with Redis's own text, without the leading `-ERR ` (a proxy answering a
/// client in Redis's place writes `-ERR <message>\r\n`). For replies, which Redis has no words
/// for, the text says what was wrong and where.
struct RESPError: Error, Equatable {
    let message: String
}
