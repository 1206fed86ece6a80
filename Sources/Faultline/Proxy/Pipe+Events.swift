import CEvent

/// A pipe's read and write events: armed only while there is something to do, and never once
/// the pipe is disposed; and the C callbacks libevent calls, thin trampolines into the pipe.
extension Pipe {
    func armRead() {
        // Not once disposed: a Redis session asks to read on (resumeReading) after a pass that
        // closed the link (redis.close, a protocol error); libevent then warned "Epoll ADD on fd
        // N failed: Bad file descriptor", or would watch a newer socket given the same number.
        guard !readArmed, !sourceEnded, !stopping, !paused, !dropped, !disposed else { return }
        readArmed = true
        event_add(readEvent, nil)
        // Decrypted bytes waiting in OpenSSL raise no readiness: come back for them now.
        if sourceTLS?.readsWithoutReadiness == true { event_active(readEvent, Int32(EV_READ), 0) }
    }

    func disarmRead() {
        guard readArmed else { return }
        readArmed = false
        event_del(readEvent)
    }

    func armWrite() {
        guard !writeArmed, !dropped, !disposed else { return }
        writeArmed = true
        event_add(writeEvent, nil)
    }

    func disarmWrite() {
        guard writeArmed else { return }
        writeArmed = false
        event_del(writeEvent)
    }
}

func pipeReadable(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Pipe>.fromOpaque(arg).takeUnretainedValue().readable()
}

func pipeSourceClosed(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    let pipe = Unmanaged<Pipe>.fromOpaque(arg).takeUnretainedValue()
    pipe.link.peerLeftWhilePaused(pipe)
}

func pipeWritable(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Pipe>.fromOpaque(arg).takeUnretainedValue().writable()
}
