import CEvent
import CShims
import Glibc

/// Carries closures from other threads onto the loop thread through an eventfd.
///
/// libevent is built without its locking here, so another thread must never touch the
/// base directly: it queues a closure under a mutex and rings the eventfd.
final class Wakeup {
    private let fd: Int32
    private var event: OpaquePointer?
    private var lock = pthread_mutex_t()
    private var queue: [@Sendable () -> Void] = []

    init(base: OpaquePointer) throws {
        fd = fl_eventfd()
        guard fd >= 0 else { throw LoopError.cannotCreate }
        pthread_mutex_init(&lock, nil)
        let me = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(base, fd, Int16(EV_READ | EV_PERSIST), wakeupReady, me)
        event_add(event, nil)
    }

    deinit {
        event_free(event)
        close(fd)
        pthread_mutex_destroy(&lock)
    }

    func post(_ body: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&lock)
        queue.append(body)
        pthread_mutex_unlock(&lock)
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    fileprivate func drain() {
        var count: UInt64 = 0
        _ = read(fd, &count, 8)
        pthread_mutex_lock(&lock)
        let work = queue
        queue.removeAll()
        pthread_mutex_unlock(&lock)
        for body in work { body() }
    }
}

private func wakeupReady(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Wakeup>.fromOpaque(arg).takeUnretainedValue().drain()
}
