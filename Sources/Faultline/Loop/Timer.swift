import CEvent
import Glibc

/// A one-shot timer on an `EventLoop`. It fires once per `schedule(after:)`; dropping the
/// last reference cancels it.
public final class Timer {
    private var event: OpaquePointer?
    private let base: OpaquePointer
    private let action: () -> Void
    private let live: LiveToken

    /// Creates an unscheduled timer that runs `action` on the loop thread when it fires.
    public init(loop: EventLoop, action: @escaping () -> Void) {
        self.action = action
        self.base = loop.base
        self.live = LiveToken(.timer, on: loop)
        let me = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(loop.base, -1, 0, timerFired, me)
    }

    deinit { event_free(event) }

    /// (Re)arms the timer to fire once after `delay`.
    public func schedule(after delay: Duration) {
        // libevent counts from the time it cached when the loop woke; late in a busy turn that
        // is already in the past, and the timer would fire early by that much.
        event_base_update_cache_time(base)
        var tv = delay.timeval
        event_add(event, &tv)
    }

    /// Runs the action once the callbacks now running have returned, in this loop turn: no
    /// timeout, so no timer syscall. Asking again before it ran changes nothing.
    public func fireSoon() {
        event_active(event, Int32(EV_TIMEOUT), 0)
    }

    /// Disarms the timer if it is pending.
    public func cancel() { event_del(event) }

    /// Whether the timer is armed and has not fired yet.
    public var isPending: Bool { event_pending(event, Int16(EV_TIMEOUT), nil) != 0 }

    fileprivate func fire() { action() }
}

private func timerFired(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Timer>.fromOpaque(arg).takeUnretainedValue().fire()
}

extension Duration {
    /// The duration as a `timeval`, rounded down to the microsecond.
    var timeval: Glibc.timeval {
        let (seconds, attoseconds) = components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
