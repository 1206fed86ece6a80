import CEvent
import Glibc

/// A listening TCP socket on the loop that hands each accepted descriptor to `onAccept`.
final class Listener {
    /// The address actually bound (port 0 becomes the port the kernel chose).
    let address: SocketAddress
    private var listener: OpaquePointer?
    private let onAccept: (Int32) -> Void
    private let onError: (Int32) -> Void

    /// Binds and listens with SO_REUSEADDR and a backlog of `backlog` (IPv6 sockets are
    /// IPv6-only, so `[::1]:P` and `127.0.0.1:P` can be two proxies).
    init(loop: EventLoop, address: SocketAddress, backlog: Int32 = 4096,
         onAccept: @escaping (Int32) -> Void, onError: @escaping (Int32) -> Void) throws {
        self.onAccept = onAccept
        self.onError = onError
        let fd = Socket.tcp(family: address.family)
        guard fd >= 0 else { throw ListenError(address: address, code: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0, listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ListenError(address: address, code: code)
        }
        self.address = Listener.boundAddress(of: fd, requested: address)
        let me = Unmanaged.passUnretained(self).toOpaque()
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)
        guard let listener = evconnlistener_new(loop.base, accepted, me, flags, 0, fd) else {
            Glibc.close(fd)
            throw ListenError(address: address, code: ENOMEM)
        }
        self.listener = listener
        evconnlistener_set_error_cb(listener, acceptFailed)
    }

    deinit { close() }

    /// Stops accepting and closes the listening socket.
    func close() {
        if let listener { evconnlistener_free(listener) }
        listener = nil
    }

    fileprivate func accept(_ fd: Int32) { onAccept(fd) }
    fileprivate func failed(_ code: Int32) { onError(code) }

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
    guard let arg else { return }
    Unmanaged<Listener>.fromOpaque(arg).takeUnretainedValue().failed(errno)
}
