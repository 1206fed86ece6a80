import CEvent
import Glibc

/// Runs the command under test beside the proxies and reports its exit on the loop.
///
/// The command gets its own process group, so a terminal's Ctrl-C reaches faultline only and
/// is forwarded once (a shared group would signal the command twice), and stopping the run
/// can signal everything the command started. Signals faultline ignores (SIGPIPE) are reset
/// to their defaults for the command.
public final class CommandRunner {
    /// The command and its arguments.
    public let arguments: [String]
    /// The command's pid once started.
    public private(set) var pid: pid_t = 0
    /// The exit status once it ended: the exit code, or 128+N when killed by signal N.
    public private(set) var status: Int32?
    private var childEvent: OpaquePointer?
    private var onExit: ((Int32) -> Void)?

    /// Prepares `arguments` (the first is looked up on PATH).
    public init(arguments: [String]) {
        self.arguments = arguments
    }

    deinit { if let childEvent { event_free(childEvent) } }

    /// Starts the command; `onExit` runs on the loop thread with its status.
    public func start(loop: EventLoop, onExit: @escaping (Int32) -> Void) throws {
        self.onExit = onExit
        let me = Unmanaged.passUnretained(self).toOpaque()
        childEvent = event_new(loop.base, SIGCHLD, Int16(EV_SIGNAL | EV_PERSIST), childChanged, me)
        event_add(childEvent, nil)
        pid = try Self.spawn(arguments)
    }

    /// Sends `signal` to the command's process group.
    public func signal(_ signo: Int32) {
        guard pid > 0, status == nil else { return }
        kill(-pid, signo)
    }

    fileprivate func reap() {
        var raw: Int32 = 0
        guard pid > 0, status == nil, waitpid(pid, &raw, WNOHANG) == pid else { return }
        let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status = code
        if let childEvent { event_del(childEvent) }
        onExit?(code)
    }

    private static func spawn(_ arguments: [String]) throws -> pid_t {
        guard let program = arguments.first else { throw CommandError(message: "no command given after --") }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        [SIGPIPE, SIGINT, SIGTERM, SIGCHLD].forEach { sigaddset(&defaults, $0) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, program, nil, &attributes, &argv, environ)
        guard result == 0 else {
            throw CommandError(message: "cannot start '\(program)': \(String(cString: strerror(result)))")
        }
        return pid
    }
}

/// The command under test could not be started.
public struct CommandError: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    public var description: String { message }
}

private func childChanged(_ signo: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<CommandRunner>.fromOpaque(arg).takeUnretainedValue().reap()
}
