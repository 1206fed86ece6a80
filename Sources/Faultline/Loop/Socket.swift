import Glibc

/// Thin helpers over the socket calls the proxy makes; each returns errno on failure.
enum Socket {
    /// A non-blocking, close-on-exec TCP socket for `family`.
    static func tcp(family: Int32) -> Int32 {
        socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    /// Starts a non-blocking connect; returns 0, EINPROGRESS or the error.
    static func connect(_ fd: Int32, to address: SocketAddress) -> Int32 {
        let status = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        return status == 0 ? 0 : errno
    }

    /// The pending error of a socket (SO_ERROR), 0 when the connect succeeded.
    static func pendingError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 ? error : errno
    }

    /// Disables Nagle: the proxy forwards what it has at once, so batching only adds latency.
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Makes the next `close` send an RST instead of a FIN.
    static func setResetOnClose(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// Sends a FIN: the peer reads EOF, and may keep sending.
    static func shutdownWrite(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads and drops what waits in the receive queue (at most 1 MB), so that a following
    /// close() sends a FIN rather than the RST Linux sends over unread data.
    /// Returns how many bytes it discarded.
    @discardableResult
    static func discardInput(_ fd: Int32, scratch: UnsafeMutableRawBufferPointer) -> Int {
        var rounds = 0
        var discarded = 0
        while rounds < 16 {
            let got = read(fd, scratch.baseAddress, scratch.count)
            guard got > 0 else { break }
            discarded += got
            rounds += 1
        }
        return discarded
    }

    /// Whether unread bytes wait in `fd` (a peek, nothing consumed).
    static func hasUnreadInput(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// Whether the peer has closed and sent nothing first (a peek reads EOF or an error).
    static func peerClosed(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let got = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// The peer's IP address as text (`127.0.0.1`, `::1`), or `?` when it cannot be had.
    static func peerHost(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let got = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard got == 0 else { return "?" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = Int32(storage.ss_family)
        let written: UnsafePointer<CChar>? = withUnsafePointer(to: &storage) { pointer in
            if family == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    withUnsafePointer(to: address.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) }
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                withUnsafePointer(to: address.pointee.sin_addr) { inet_ntop(AF_INET, $0, &text, socklen_t(text.count)) }
            }
        }
        return written == nil ? "?" : String(cString: text)
    }

    /// The system's text for an errno value.
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
