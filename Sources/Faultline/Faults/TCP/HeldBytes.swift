import CEvent

/// What every stage that holds bytes needs: an evbuffer they wait in, one they leave through,
/// and a timer that releases them. Moving between evbuffers moves chains, not bytes.
final class HeldBytes {
    private let held: OpaquePointer
    private let out: OpaquePointer
    /// Fires the stage's release.
    let timer: Timer

    init(loop: EventLoop, release: @escaping () -> Void) {
        held = evbuffer_new()
        out = evbuffer_new()
        timer = Timer(loop: loop, action: release)
    }

    deinit {
        evbuffer_free(held)
        evbuffer_free(out)
    }

    /// Bytes waiting.
    var count: Int { evbuffer_get_length(held) }

    /// Takes every byte of `data`.
    func hold(_ data: OpaquePointer) { evbuffer_add_buffer(held, data) }

    /// Marks the first `length` waiting bytes for release.
    func pick(_ length: Int) { evbuffer_remove_buffer(held, out, length) }

    /// Hands the picked bytes to `next`.
    func send(to next: (OpaquePointer) -> Void) {
        if evbuffer_get_length(out) > 0 { next(out) }
    }

    /// The fault is gone: everything waiting goes on now.
    func releaseAll(to next: (OpaquePointer) -> Void) {
        timer.cancel()
        if count > 0 { next(held) }
    }
}
