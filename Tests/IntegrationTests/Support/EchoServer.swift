import Foundation
import Glibc

/// An echo upstream for thousands of connections on one thread (poll(2); Glibc's overlay has
/// no epoll), so the connection test measures the proxy, not a thread-per-connection server.
final class EchoServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let stopping = Locked(false)
    /// Connections accepted so far, and the most open at once.
    let accepted = Locked(0)
    let peakOpen = Locked(0)
    private var worker: Worker<Void>?

    init(host: String = "127.0.0.1") throws {
        (listener, port) = try Sock.listen(host: host, backlog: 4096)
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        worker = Worker("echo server") { [self] in serve() }
    }

    /// Stops the loop; it closes every socket it still holds.
    func stop() {
        stopping.update { $0 = true }
        _ = try? worker?.join(timeout: 5)
        Sock.close(listener)
    }

    private func serve() {
        // Entry 0 is the listener; the rest are accepted connections.
        var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !stopping.current {
            guard poll(&entries, nfds_t(entries.count), 50) > 0 else { continue }
            var closed = Set<Int32>()
            for entry in entries.dropFirst() where entry.revents != 0 {
                let fd = entry.fd
                let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if got > 0 {
                    // Messages are small and the socket's send buffer empty: the blocking
                    // send finishes at once (and the socket's timeouts bound it anyway).
                    _ = try? buffer.withUnsafeBytes { try Sock.sendAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                } else if got == 0 || (errno != EAGAIN && errno != EINTR) {
                    closed.insert(fd)
                    Sock.close(fd)
                }
            }
            if !closed.isEmpty { entries.removeAll { closed.contains($0.fd) } }
            if entries[0].revents != 0 {
                while true {
                    let client = acceptCloseOnExec(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
                    guard client >= 0 else { break }
                    Sock.setTimeouts(client, seconds: 5)
                    entries.append(pollfd(fd: client, events: Int16(POLLIN), revents: 0))
                    accepted.update { $0 += 1 }
                }
                peakOpen.update { $0 = max($0, entries.count - 1) }
            }
        }
        entries.dropFirst().forEach { Sock.close($0.fd) }
    }
}
