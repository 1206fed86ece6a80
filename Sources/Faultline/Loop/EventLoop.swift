import CEvent
import Glibc

/// The one libevent `event_base` of a faultline process.
///
/// Every socket, timer and signal of the process is registered here, and every callback runs
/// on the thread that calls `run()`. Other threads reach the loop only through `execute(_:)`.
public final class EventLoop {
    /// The underlying `event_base`.
    let base: OpaquePointer
    private var wakeup: Wakeup?
    /// One buffer for every small read on this loop: callbacks never overlap, so sharing it
    /// costs nothing and saves an allocation per chunk.
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 64)
    /// Link-made objects alive on this loop (links, pipes, effects, stages, timers); read it
    /// on the loop thread.
    public internal(set) var liveObjects = LiveObjects()

    /// Creates a loop with precise timers (100 ms fires at ~100.15 ms instead of ~104).
    public init() throws {
        // A peer that resets makes write/splice raise SIGPIPE, which would kill the process;
        // the EPIPE return value is all the proxy needs.
        signal(SIGPIPE, SIG_IGN)
        guard let config = event_config_new() else { throw LoopError.cannotCreate }
        defer { event_config_free(config) }
        event_config_set_flag(config, Int32(EVENT_BASE_FLAG_PRECISE_TIMER.rawValue))
        guard let base = event_base_new_with_config(config) else { throw LoopError.cannotCreate }
        self.base = base
        self.wakeup = try Wakeup(base: base)
    }

    deinit {
        wakeup = nil
        event_base_free(base)
        scratch.deallocate()
    }

    /// Runs callbacks until `stop()` is called or nothing is registered any more.
    public func run() {
        event_base_dispatch(base)
    }

    /// Runs callbacks for `duration` at most (or until `stop()`): lets writes already queued go
    /// out after the main `run()` returned (the last chunk of an event stream).
    public func run(for duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        event_base_loopexit(base, &limit)
        event_base_dispatch(base)
    }

    /// Makes `run()` return after the callbacks that are already running.
    public func stop() {
        event_base_loopbreak(base)
    }

    /// Runs `body` on the loop's thread. Safe to call from any thread.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        wakeup?.post(body)
    }

    /// The loop's cached monotonic time, cheap to read inside callbacks.
    public var now: Duration {
        var tv = timeval()
        event_base_gettimeofday_cached(base, &tv)
        return .seconds(tv.tv_sec) + .microseconds(tv.tv_usec)
    }
}

/// Why the loop could not start.
public enum LoopError: Error, CustomStringConvertible {
    case cannotCreate
    public var description: String { "cannot create the libevent event base" }
}
