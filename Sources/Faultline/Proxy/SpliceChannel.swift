import CShims
import Glibc

/// A kernel pipe that holds one direction's bytes between two splice(2) calls.
///
/// `count` is kept by the caller from splice's return values, so no ioctl is needed to know
/// how full it is.
final class SpliceChannel {
    let readEnd: Int32
    let writeEnd: Int32
    let capacity: Int
    var count = 0

    /// Opens a non-blocking pipe and asks the kernel for `capacity` bytes; returns nil when
    /// the process is out of descriptors (the caller then falls back to the buffered path).
    init?(capacity: Int32) {
        var fds: [Int32] = [-1, -1]
        guard fl_pipe(&fds) == 0 else { return nil }
        readEnd = fds[0]
        writeEnd = fds[1]
        let granted = fl_set_pipe_size(writeEnd, capacity)
        self.capacity = Int(granted > 0 ? granted : fl_pipe_size(writeEnd))
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    var room: Int { capacity - count }
}
