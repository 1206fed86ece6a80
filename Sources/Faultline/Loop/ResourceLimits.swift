import Glibc

/// Process limits a proxy needs raised before it accepts thousands of links.
public enum ResourceLimits {
    /// Raises the soft open-file limit to the hard limit: every link holds two sockets and,
    /// once bytes flow, two kernel pipes. Returns the limit now in force.
    @discardableResult
    public static func raiseOpenFiles() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return UInt64(limit.rlim_cur)
    }
}
