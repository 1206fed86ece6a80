import CEvent

/// Reading an evbuffer in place, for parsers that scan what a pipe holds without copying it.
enum EvbufferBytes {
    /// The contiguous bytes of `buffer` from `offset` to the end of the chain holding it (at
    /// least one byte when `offset` is inside the buffer; empty otherwise).
    static func segment(_ buffer: OpaquePointer, from offset: Int) -> UnsafeRawBufferPointer {
        var position = evbuffer_ptr()
        guard evbuffer_ptr_set(buffer, &position, offset, EVBUFFER_PTR_SET) == 0 else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        var vec = iovec()
        guard evbuffer_peek(buffer, -1, &position, &vec, 1) > 0, let base = vec.iov_base else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: base, count: vec.iov_len)
    }
}
