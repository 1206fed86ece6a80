import Foundation
import Glibc

/// accept4(2), which Glibc's Swift overlay does not import (it is GNU-only): accept and
/// set close-on-exec atomically, so a child spawned meanwhile cannot inherit the socket.
@_silgen_name("accept4")
func acceptCloseOnExec(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?,
                       _ length: UnsafeMutablePointer<socklen_t>?, _ flags: Int32) -> Int32

/// A system call that failed, with the errno it left.
struct SystemCallFailure: Error, CustomStringConvertible {
    let call: String
    let code: Int32
    var description: String { "\(call) failed: \(String(cString: strerror(code))) (errno \(code))" }
}

/// What one recv(2) gave: bytes, an orderly EOF (FIN), or an error such as ECONNRESET.
/// Tests assert on this exactly, because FIN versus RST is what the proxy must get right.
enum Received: Equatable, CustomStringConvertible {
    case bytes(Int)
    case eof
    case failed(Int32)

    var description: String {
        switch self {
        case let .bytes(count): return "\(count) bytes"
        case .eof: return "EOF"
        case let .failed(code): return "error \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}

/// Blocking test sockets on loopback. Every descriptor is close-on-exec so a spawned proxy or
/// redis-server never inherits one (an inherited client socket would keep a FIN from leaving).
/// Every socket gets send/receive timeouts so no test can hang forever on a proxy bug.
enum Sock {
    private static let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    static let defaultTimeout: Double = 30

    static func family(of host: String) -> Int32 { host.contains(":") ? AF_INET6 : AF_INET }

    /// Calls `body` with `host:port` as a sockaddr (host is an IPv4 or IPv6 literal).
    static func withAddress<T>(_ host: String, _ port: UInt16,
                               _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) throws -> T {
        if family(of: host) == AF_INET6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
                throw SystemCallFailure(call: "inet_pton(\(host))", code: EINVAL)
            }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw SystemCallFailure(call: "inet_pton(\(host))", code: EINVAL)
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// A listening socket on `host:port` (0: the kernel picks) and the port it got.
    static func listen(host: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 1024) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(family(of: host), streamType, 0)
        guard fd >= 0 else { throw SystemCallFailure(call: "socket", code: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = try withAddress(host, port) { bind(fd, $0, $1) }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemCallFailure(call: "bind/listen \(host):\(port)", code: code)
        }
        return (fd, localPort(fd))
    }

    /// A connected blocking socket to `host:port`, with timeouts set, and SO_RCVBUF set
    /// before connecting when `receiveBuffer` is given (it fixes the advertised window).
    static func connect(host: String = "127.0.0.1", port: UInt16, timeout: Double = defaultTimeout,
                        receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(family(of: host), streamType, 0)
        guard fd >= 0 else { throw SystemCallFailure(call: "socket", code: errno) }
        setTimeouts(fd, seconds: timeout)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let status = try withAddress(host, port) { Glibc.connect(fd, $0, $1) }
        guard status == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemCallFailure(call: "connect \(host):\(port)", code: code)
        }
        return fd
    }

    /// Accepts one connection, waiting at most `timeout` seconds for it.
    static func accept(_ listener: Int32, timeout: Double = 10) throws -> Int32 {
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, Int32(timeout * 1000))
        guard ready > 0 else { throw SystemCallFailure(call: "accept (waited \(timeout) s)", code: ready == 0 ? ETIMEDOUT : errno) }
        let fd = acceptCloseOnExec(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        guard fd >= 0 else { throw SystemCallFailure(call: "accept", code: errno) }
        setTimeouts(fd, seconds: defaultTimeout)
        return fd
    }

    /// SO_RCVTIMEO and SO_SNDTIMEO (the latter also bounds a blocking connect on Linux).
    static func setTimeouts(_ fd: Int32, seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { pointer in
            _ = pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            // sin_port and sin6_port sit at the same offset.
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// A port that was free a moment ago (bound to 0, then closed). Only for things that must
    /// be told a port up front (redis-server, "nothing listens here"); racy by nature.
    static func freePort(host: String = "127.0.0.1") throws -> UInt16 {
        // The kernel may hand a closed port out again at once: a test that asked twice got
        // one port for two proxies (CI: "cannot listen on 127.0.0.1:32871"). Never twice here.
        for _ in 0..<64 {
            let (fd, port) = try listen(host: host, port: 0)
            Glibc.close(fd)
            if handedOutLock.withLock({ handedOut.insert(port).inserted }) { return port }
        }
        throw SystemCallFailure(call: "freePort", code: EADDRINUSE)
    }

    /// Ports `freePort` gave out in this process, under `handedOutLock`.
    nonisolated(unsafe) private static var handedOut: Set<UInt16> = []
    private static let handedOutLock = NSLock()

    /// Whether [::1] can be bound here (containers without IPv6 cannot).
    static var ipv6Available: Bool {
        guard let (fd, _) = try? listen(host: "::1") else { return false }
        Glibc.close(fd)
        return true
    }

    static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                throw SystemCallFailure(call: "send", code: errno)
            }
            offset += sent
        }
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try sendAll(fd, $0) }
    }

    /// One recv(2) into `buffer`.
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Received {
        while true {
            let got = recv(fd, buffer.baseAddress, buffer.count, 0)
            if got > 0 { return .bytes(got) }
            if got == 0 { return .eof }
            if errno == EINTR { continue }
            return .failed(errno)
        }
    }

    /// Reads exactly `count` bytes; throws on EOF or error before that.
    static func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let outcome = result.withUnsafeMutableBytes { Sock.receive(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[offset...])) }
            guard case let .bytes(got) = outcome else {
                throw SystemCallFailure(call: "recv after \(offset) of \(count) bytes (\(outcome))", code: EIO)
            }
            offset += got
        }
        return result
    }

    /// Reads until EOF or an error (at most `limit` bytes), returning the bytes and how it ended.
    static func readToEnd(_ fd: Int32, limit: Int = 64 << 20) -> (bytes: [UInt8], end: Received) {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while result.count <= limit {
            let outcome = chunk.withUnsafeMutableBytes { Sock.receive(fd, into: $0) }
            guard case let .bytes(got) = outcome else { return (result, outcome) }
            result += chunk[0..<got]
        }
        return (result, .failed(EMSGSIZE))
    }

    /// SO_LINGER {1, 0}: the next close sends an RST instead of a FIN.
    static func resetOnClose(_ fd: Int32) {
        var value = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
    }

    static func shutdownWrite(_ fd: Int32) { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    static func close(_ fd: Int32) { Glibc.close(fd) }

    /// One IPv4 loopback TCP socket as /proc/net/tcp shows it: ports, state, and the bytes
    /// queued in the kernel (tx: sent but not acknowledged; rx: received, not yet read).
    struct KernelSocket {
        let localPort: UInt16
        let remotePort: UInt16
        let established: Bool
        let sendQueue: Int
        let receiveQueue: Int
    }

    /// The established 127.0.0.1 sockets whose local or remote port is one of `ports`.
    static func kernelSockets(ports: Set<UInt16>) -> [KernelSocket] {
        // The table can hold thousands of TIME_WAIT lines after the connection tests, and
        // String splitting is slow unoptimised, so read raw bytes at the fixed offsets of
        // "%4d: %08X:%04X %08X:%04X %02X %08X:%08X" (sl, local, remote, state, tx:rx).
        let table = readProcBytes("/proc/net/tcp")
        var found: [KernelSocket] = []
        table.withUnsafeBufferPointer { bytes in
            func hex(_ start: Int, _ count: Int) -> Int? {
                var value = 0
                for index in start..<(start + count) {
                    let c = bytes[index]
                    switch c {
                    case 48...57: value = value * 16 + Int(c - 48)
                    case 65...70: value = value * 16 + Int(c - 55)
                    case 97...102: value = value * 16 + Int(c - 87)
                    default: return nil
                    }
                }
                return value
            }
            let origin = UnsafeRawPointer(bytes.baseAddress!)
            var start = 0
            while start < bytes.count {
                var newline = bytes.count
                if let hit = memchr(origin + start, 10, bytes.count - start) {
                    newline = UnsafeRawPointer(hit) - origin
                }
                defer { start = newline + 1 }
                // "sl" is %4d but widens past 9999 entries: count from its colon.
                var colon = start
                while colon < newline && colon - start < 12 && bytes[colon] != 58 /* ":" */ { colon += 1 }
                let base = colon + 2
                guard newline - base >= 48, hex(base, 8) == 0x0100007F, hex(base + 28, 2) == 0x01,
                      let localPort = hex(base + 9, 4), let remotePort = hex(base + 23, 4),
                      let tx = hex(base + 31, 8), let rx = hex(base + 40, 8) else { continue }
                let local = UInt16(truncatingIfNeeded: localPort)
                let remote = UInt16(truncatingIfNeeded: remotePort)
                guard ports.contains(local) || ports.contains(remote) else { continue }
                found.append(KernelSocket(localPort: local, remotePort: remote, established: true, sendQueue: tx, receiveQueue: rx))
            }
        }
        return found
    }

    /// The whole of a /proc file (Foundation trusts st_size, which is 0 there, and stops early).
    static func readProcFile(_ path: String) -> String {
        String(decoding: readProcBytes(path), as: UTF8.self)
    }

    static func readProcBytes(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { Glibc.close(fd) }
        // One large read: seq_file fills it in one pass, a consistent view of the table;
        // small reads resume between records and can skip or repeat sockets that moved.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8 << 20)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard got > 0 else { break }
            bytes += chunk[0..<got]
        }
        return bytes
    }
}
