import CEvent
import Glibc
import Logging

/// A listening TCP socket on the loop that hands each accepted descriptor to `onAccept`.
///
/// Out of descriptors, it stops accepting instead of spinning or dropping clients. It holds
/// one spare descriptor that a link whose upstream socket() ran out of descriptors takes
/// (`yieldSpare()`), so an accepted client always gets its upstream socket, and accepting
/// pauses until the spare is back; when the spare cannot be taken back, or an accept fails
/// (EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else libevent does not retry itself), it
/// pauses accepting for a wait that doubles from 10 ms to 1 s, as HAProxy's listeners do.
/// Clients meanwhile wait in the kernel's backlog. The next accept that works resets the wait.
/// Failures are logged at most once a second, with a count.
final class Listener {
    /// The address actually bound (port 0 becomes the port the kernel chose).
    let address: SocketAddress
    private var listener: OpaquePointer?
    private let onAccept: (Int32) -> Void
    private let log: Logger
    private var backoff = RetryBackoff(initial: .milliseconds(10), cap: .seconds(1))
    private var failureLog = AcceptFailureLog()
    private var resumeTimer: Timer?
    private var spare: Int32 = -1

    /// Binds and listens with SO_REUSEADDR and a backlog of `backlog` (IPv6 sockets are
    /// IPv6-only, so `[::1]:P` and `127.0.0.1:P` can be two proxies).
    init(loop: EventLoop, address: SocketAddress, backlog: Int32 = 4096, log: Logger,
         onAccept: @escaping (Int32) -> Void) throws {
        self.onAccept = onAccept
        self.log = log
        let (fd, bound) = try Self.listeningSocket(address, backlog: backlog)
        self.address = bound
        let me = Unmanaged.passUnretained(self).toOpaque()
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)
        guard let listener = evconnlistener_new(loop.base, accepted, me, flags, 0, fd) else {
            Glibc.close(fd)
            throw ListenError(address: address, code: ENOMEM)
        }
        self.listener = listener
        evconnlistener_set_error_cb(listener, acceptFailed)
        resumeTimer = Timer(loop: loop) { [unowned self] in resume() }
        spare = Self.openSpare()
    }

    deinit { close() }

    /// Stops accepting and closes the listening socket.
    func close() {
        resumeTimer?.cancel()
        if let listener { evconnlistener_free(listener) }
        listener = nil
        if spare >= 0 { Glibc.close(spare) }
        spare = -1
    }

    fileprivate func accept(_ fd: Int32) {
        onAccept(fd)
        if backoff.failures > 0 {
            if let line = failureLog.recovered(after: backoff.failures) { log.info("\(line)") }
            backoff.reset()
        }
    }

    /// libevent calls this for every accept error it does not retry itself; the socket is
    /// still readable, so unless accepting pauses the loop would call it again at once, forever.
    fileprivate func failed(_ code: Int32) {
        guard let listener else { return }
        evconnlistener_disable(listener)
        let pause = backoff.failed()
        resumeTimer?.schedule(after: pause)
        if let line = failureLog.failed(code, pause: pause) { log.warning("\(line)") }
    }

    /// Out of descriptors for a client just accepted: frees the spare so its upstream socket
    /// can be made, and pauses accepting until the spare can be had again. False when there
    /// was no spare to give.
    func yieldSpare() -> Bool {
        guard spare >= 0 else { return false }
        Glibc.close(spare)
        spare = -1
        failed(EMFILE)
        return true
    }

    /// Accepts again once the spare descriptor is back.
    private func resume() {
        guard let listener else { return }
        if spare < 0 { spare = Self.openSpare() }
        guard spare >= 0 else { return failed(errno) }
        evconnlistener_enable(listener)
    }

    /// A descriptor that stands for the next client's upstream socket, or -1 with errno set.
    private static func openSpare() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    /// A socket bound to `address` and listening, with SO_REUSEADDR and TCP_NODELAY (inherited
    /// by accepted sockets: no setsockopt per client); IPv6 sockets are IPv6-only. Returns it
    /// with the address actually bound (port 0 becomes the kernel's choice).
    static func listeningSocket(_ address: SocketAddress, backlog: Int32) throws(ListenError) -> (Int32, SocketAddress) {
        let fd = Socket.tcp(family: address.family)
        guard fd >= 0 else { throw ListenError(address: address, code: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        Socket.setNoDelay(fd)
        // IPv6-only, so `[::1]:P` and `127.0.0.1:P` can be two proxies; but `[::]:P`, every
        // address, takes IPv4 clients too, as Go's (Toxiproxy's) listeners do.
        if address.family == AF_INET6 {
            var only: Int32 = address.isUnspecified ? 0 : 1
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &only, socklen_t(MemoryLayout<Int32>.size))
        }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0, listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ListenError(address: address, code: code)
        }
        return (fd, boundAddress(of: fd, requested: address))
    }

    private static func boundAddress(of fd: Int32, requested: SocketAddress) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let port = withUnsafeMutablePointer(to: &storage) { pointer -> UInt16 in
            _ = pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return requested.replacingPort(port)
    }
}

/// Which accept failures get a log line: the first one, then at most one a second saying how
/// many there were since the previous line; and one line when accepts work again after a
/// warned-about run of failures. Out of descriptors, a listener fails on every retry; one line
/// per failure once filled the log at 200,000 lines a second.
struct AcceptFailureLog {
    private var lastLine: ContinuousClock.Instant?
    private var sinceLine = 0
    private var firstOfRun: ContinuousClock.Instant?
    private var warnedThisRun = false

    /// Counts a failure; returns the line to log, or nil when a line went out less than a
    /// second ago.
    mutating func failed(_ code: Int32, pause: Duration, now: ContinuousClock.Instant = .now) -> String? {
        sinceLine += 1
        if firstOfRun == nil { firstOfRun = now }
        var counted = ""
        if let lastLine {
            let elapsed = now - lastLine
            guard elapsed >= .seconds(1) else { return nil }
            counted = " (\(sinceLine) time\(sinceLine == 1 ? "" : "s") in the last \(Self.tenths(elapsed)))"
        }
        lastLine = now
        sinceLine = 0
        warnedThisRun = true
        return "cannot accept: \(Socket.describe(code))\(counted); pausing accepts for \(DurationText.format(pause))"
    }

    /// The line for the first accept after `failures` pauses, or nil when no warning told
    /// about them.
    mutating func recovered(after failures: Int, now: ContinuousClock.Instant = .now) -> String? {
        defer {
            firstOfRun = nil
            warnedThisRun = false
        }
        guard warnedThisRun, let firstOfRun else { return nil }
        return "accepting again (paused \(failures) time\(failures == 1 ? "" : "s") over \(Self.tenths(now - firstOfRun)))"
    }

    /// `1.0s`, `12.3s`: one decimal is enough for a log line.
    private static func tenths(_ duration: Duration) -> String {
        let tenths = Int(duration / .milliseconds(100))
        return "\(tenths / 10).\(tenths % 10)s"
    }
}

/// A listen address that could not be bound, with the system's reason.
public struct ListenError: Error, CustomStringConvertible {
    /// The address that was asked for.
    public let address: SocketAddress
    /// errno from socket, bind or listen.
    public let code: Int32
    public var description: String {
        let hint = code == EADDRINUSE ? " (another process listens there; pick another port or stop it)" : ""
        return "cannot listen on \(address): \(Socket.describe(code))\(hint)"
    }
}

private func accepted(_ listener: OpaquePointer?, _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?,
                      _ length: Int32, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Listener>.fromOpaque(arg).takeUnretainedValue().accept(fd)
}

private func acceptFailed(_ listener: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) {
    // Read errno first: nothing between libevent's failed accept and this call touched it.
    let code = errno
    guard let arg else { return }
    Unmanaged<Listener>.fromOpaque(arg).takeUnretainedValue().failed(code)
}
