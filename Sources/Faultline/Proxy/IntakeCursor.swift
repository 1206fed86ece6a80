import CEvent

/// What happens to the bytes of the message (a command, a request) being scanned.
enum MessageFate { case undecided, forward, drop }

/// Where a protocol session is in a client's intake, read in place:
/// `[forwardable: decided, to go on][scanned: the current message, its fate maybe unknown][not scanned]`.
/// Bytes leave in batches into `out`, one evbuffer move per pass, not per message.
struct IntakeCursor {
    private let out: OpaquePointer
    var forwardable = 0
    var scanned = 0

    init(out: OpaquePointer) { self.out = out }

    /// Where the next scan starts.
    var offset: Int { forwardable + scanned }

    /// Bytes of the current message go on or away once its fate is known.
    mutating func settle(_ fate: MessageFate, _ intake: OpaquePointer) {
        switch fate {
        case .undecided:
            return
        case .forward:
            forwardable += scanned
        case .drop:
            moveForwardable(intake)
            evbuffer_drain(intake, scanned)
        }
        scanned = 0
    }

    /// Moves what is decided to go on into `out`.
    mutating func moveForwardable(_ intake: OpaquePointer) {
        guard forwardable > 0 else { return }
        evbuffer_remove_buffer(intake, out, forwardable)
        forwardable = 0
    }
}
