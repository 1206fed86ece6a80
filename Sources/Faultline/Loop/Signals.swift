import CEvent
import Glibc

/// Turns SIGINT and SIGTERM into a graceful stop on the loop, and a second one into an
/// immediate exit, the way users expect from a foreground server.
public final class ShutdownSignals {
    private var events: [OpaquePointer] = []
    /// Held so that the `event_base` outlives the signal events freed in deinit.
    private let loop: EventLoop
    private var received = 0
    private let onFirst: (Int32) -> Void
    private let onSecond: ((Int32) -> Void)?

    /// Watches SIGINT and SIGTERM; `onFirst` runs on the loop thread for the first one. A
    /// second one exits at once, or runs `onSecond` when given (which must end quickly: a
    /// third signal exits at once).
    public init(loop: EventLoop, onFirst: @escaping (Int32) -> Void, onSecond: ((Int32) -> Void)? = nil) {
        self.loop = loop
        self.onFirst = onFirst
        self.onSecond = onSecond
        let me = Unmanaged.passUnretained(self).toOpaque()
        for signo in [SIGINT, SIGTERM] {
            if let event = event_new(loop.base, signo, Int16(EV_SIGNAL | EV_PERSIST), signalled, me) {
                event_add(event, nil)
                events.append(event)
            }
        }
    }

    deinit { events.forEach { event_free($0) } }

    fileprivate func handle(_ signo: Int32) {
        received += 1
        switch received {
        case 1: onFirst(signo)
        case 2 where onSecond != nil: onSecond?(signo)
        default: _exit(128 + signo)
        }
    }
}

private func signalled(_ signo: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<ShutdownSignals>.fromOpaque(arg).takeUnretainedValue().handle(signo)
}
