import CEvent
import Glibc

/// Moves bytes between a socket (plain, or through a TLS session) and an evbuffer without an
/// intermediate copy: reads land in space reserved at the buffer's end, writes leave from its
/// front. The buffered path of `Pipe` is built on these three.
enum BufferIO {
    /// readv(2) straight into space reserved at the end of `buffer` (evbuffer_iovec is struct
    /// iovec on Unix); returns the count read, 0 at EOF or -errno.
    static func readv(_ fd: Int32, into buffer: OpaquePointer, atMost size: Int) -> Int {
        var space = (iovec(), iovec())
        return withUnsafeMutablePointer(to: &space) {
            $0.withMemoryRebound(to: iovec.self, capacity: 2) { vecs -> Int in
                let count = evbuffer_reserve_space(buffer, size, vecs, 2)
                guard count > 0 else { return -Int(ENOMEM) }
                let read = Glibc.readv(fd, vecs, count)
                let error = errno
                var left = max(read, 0)
                for index in 0..<Int(count) {
                    vecs[index].iov_len = min(vecs[index].iov_len, left)
                    left -= vecs[index].iov_len
                }
                evbuffer_commit_space(buffer, vecs, read > 0 ? count : 0)
                return read >= 0 ? read : -Int(error)
            }
        }
    }

    /// Decrypts up to `size` bytes into space reserved at the end of `buffer`, record after
    /// record, while OpenSSL holds bytes read ahead; same results as `readv`. Once what it
    /// holds is used up it stops rather than ask the socket again: that read would mostly
    /// find nothing (EAGAIN, a syscall per request), and readiness says when there is more.
    /// Bytes read come back first: an end or error met after them is met again on the next
    /// call (the session repeats it), which the re-armed read makes happen at once, as it does
    /// for plaintext OpenSSL still holds.
    static func decrypt(_ session: TLSSession, into buffer: OpaquePointer, atMost size: Int) -> Int {
        var space = iovec()
        guard evbuffer_reserve_space(buffer, size, &space, 1) == 1, let base = space.iov_base else { return -Int(ENOMEM) }
        var filled = 0
        var last = 0
        while filled < space.iov_len {
            last = session.read(base + filled, space.iov_len - filled)
            guard last > 0 else { break }
            filled += last
            guard session.readsWithoutReadiness else { break }
        }
        space.iov_len = filled
        evbuffer_commit_space(buffer, &space, filled > 0 ? 1 : 0)
        return filled > 0 ? filled : last
    }

    /// Encrypts what `buffer` holds onto the sink, as evbuffer_write would write it: the count
    /// written, or -1 with errno set. Each SSL_write gets one contiguous run (a small first run
    /// is pulled up to a full record, so a buffer of small chunks does not become small records).
    static func encrypt(_ buffer: OpaquePointer, to session: TLSSession) -> Int32 {
        encrypt(buffer, to: session) { _ in }
    }

    /// `encrypt`, showing `tap` each run of plaintext the session took.
    static func encrypt(_ buffer: OpaquePointer, to session: TLSSession, tap: (UnsafeRawBufferPointer) -> Void) -> Int32 {
        var total: Int32 = 0
        while case let length = evbuffer_get_length(buffer), length > 0 {
            let run = evbuffer_get_contiguous_space(buffer)
            let size = run >= min(length, 16 * 1024) ? run : min(length, 16 * 1024)
            guard let bytes = evbuffer_pullup(buffer, size) else { errno = ENOMEM; return -1 }
            let sent = session.write(bytes, size)
            guard sent > 0 else {
                if total > 0 && sent == -Int(EAGAIN) { return total }
                errno = Int32(-sent)
                return -1
            }
            tap(UnsafeRawBufferPointer(start: bytes, count: sent))
            evbuffer_drain(buffer, sent)
            total += Int32(sent)
        }
        return total
    }

    /// Writes from the front of `buffer` to `sink` (encrypting through `tls` when set): the
    /// count written, or -1 with errno set. A captured link's capture sees the bytes as they leave.
    static func write(_ buffer: OpaquePointer, to sink: Int32, tls: TLSSession?, capture: LinkCapture?,
                      direction: Pipe.Direction) -> Int32 {
        guard let capture else { return tls.map { encrypt(buffer, to: $0) } ?? evbuffer_write(buffer, sink) }
        if let tls { return encrypt(buffer, to: tls) { capture.sent(direction, $0) } }
        return write(buffer, to: sink) { capture.sent(direction, $0) }
    }

    /// writev(2) from the front of `buffer`, as evbuffer_write does, showing `tap` the bytes
    /// written before they are drained: the count written, or -1 with errno set.
    static func write(_ buffer: OpaquePointer, to sink: Int32, tap: (UnsafeRawBufferPointer) -> Void) -> Int32 {
        var space = (iovec(), iovec(), iovec(), iovec(), iovec(), iovec(), iovec(), iovec())
        return withUnsafeMutablePointer(to: &space) {
            $0.withMemoryRebound(to: iovec.self, capacity: 8) { vecs -> Int32 in
                let count = evbuffer_peek(buffer, -1, nil, vecs, 8)
                let wrote = Glibc.writev(sink, vecs, min(count, 8))
                guard wrote > 0 else { return Int32(wrote) }
                var left = wrote
                for index in 0..<Int(min(count, 8)) where left > 0 {
                    let size = min(vecs[index].iov_len, left)
                    tap(UnsafeRawBufferPointer(start: vecs[index].iov_base, count: size))
                    left -= size
                }
                evbuffer_drain(buffer, wrote)
                return Int32(wrote)
            }
        }
    }

    /// Shows `body` the last `count` bytes of `buffer` (just read into it), run by run, in place.
    static func tail(of buffer: OpaquePointer, count: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        var position = evbuffer_ptr()
        guard evbuffer_ptr_set(buffer, &position, evbuffer_get_length(buffer) - count, EVBUFFER_PTR_SET) == 0 else { return }
        var space = (iovec(), iovec(), iovec(), iovec())
        withUnsafeMutablePointer(to: &space) {
            $0.withMemoryRebound(to: iovec.self, capacity: 4) { vecs in
                var left = count
                while left > 0 {
                    let found = min(Int(evbuffer_peek(buffer, left, &position, vecs, 4)), 4)
                    guard found > 0 else { return }
                    for index in 0..<found where left > 0 {
                        let size = min(vecs[index].iov_len, left)
                        body(UnsafeRawBufferPointer(start: vecs[index].iov_base, count: size))
                        left -= size
                        guard left > 0 else { return }
                        _ = evbuffer_ptr_set(buffer, &position, size, EVBUFFER_PTR_ADD)
                    }
                }
            }
        }
    }
}
