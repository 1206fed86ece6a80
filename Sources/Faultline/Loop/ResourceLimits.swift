import Glibc
import Logging

/// Process limits a proxy needs raised before it accepts thousands of links.
public enum ResourceLimits {
    /// Raises the soft open-file limit to the hard limit: every link holds two sockets and,
    /// once bytes flow, two kernel pipes. Says at debug what the limit was and is. Returns
    /// the limit now in force.
    @discardableResult
    public static func raiseOpenFiles(log: Logger) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            log.debug("cannot read the open-file limit: \(Socket.describe(errno))")
            return 0
        }
        let before = UInt64(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else {
            log.debug("open-file limit is \(before) (the hard limit)")
            return before
        }
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            log.debug("open-file limit is \(before): raising it to \(limit.rlim_max) failed: \(Socket.describe(errno))")
            return before
        }
        log.debug("open-file limit raised from \(before) to \(limit.rlim_max)")
        return UInt64(limit.rlim_max)
    }
}
