import CEvent
import CShims
import Glibc

/// Runs the command under test beside the proxies, reports its exit on the loop, and ends it
/// together with everything it started.
///
/// The command gets its own process group, so a terminal's Ctrl-C reaches faultline only and
/// stopping the run can signal everything the command started, including background jobs
/// that outlive it (`sh -c 'worker & exit 0'`). faultline adopts those orphans (it is a child
/// subreaper) and reaps them, so a finished job is gone at once instead of lingering as a
/// zombie of init, which would look like a live member of the group. The command dies with
/// faultline even when faultline is SIGKILLed (PR_SET_PDEATHSIG; only the command itself,
/// its own children cannot be reached then). Signals faultline ignores (SIGPIPE) are reset
/// to their defaults for the command.
public final class CommandRunner {
    /// The command and its arguments.
    public let arguments: [String]
    /// The command's pid once started; also its process group's id.
    public private(set) var pid: pid_t = 0
    /// How it ended, once it has.
    public private(set) var exit: CommandExit?
    private var childEvent: OpaquePointer?
    private var onExit: ((CommandExit) -> Void)?
    private var loop: EventLoop?
    private var stop: GroupStop?

    /// Prepares `arguments` (the first is looked up on PATH).
    public init(arguments: [String]) {
        self.arguments = arguments
    }

    deinit { if let childEvent { event_free(childEvent) } }

    /// Starts the command; `onExit` runs on the loop thread when it ends. With `output`, the
    /// command's stderr (and its stdout when faultline's is a terminal) go to that pty.
    ///
    /// Call it on the loop's thread, which must live as long as the run: the kernel kills the
    /// command when the thread that started it ends.
    public func start(loop: EventLoop, output: CommandTerminal? = nil, onExit: @escaping (CommandExit) -> Void) throws {
        self.onExit = onExit
        self.loop = loop
        let me = Unmanaged.passUnretained(self).toOpaque()
        childEvent = event_new(loop.base, SIGCHLD, Int16(EV_SIGNAL | EV_PERSIST), childChanged, me)
        event_add(childEvent, nil)
        _ = fl_become_subreaper()
        let terminal = output?.terminal ?? -1
        pid = try Self.spawn(arguments, stdout: isatty(1) != 0 ? terminal : -1, stderr: terminal)
        output?.closeTerminal()
    }

    /// Ends the process group: SIGTERM now, SIGKILL to whatever is left after `grace` (at once
    /// when zero), then `done` on the loop once no process of the group is left. Called again
    /// while it waits, a shorter grace brings the SIGKILL forward.
    public func stopGroup(grace: Duration, done: @escaping () -> Void) {
        guard pid > 0, let loop else { return done() }
        if let stop { return stop.hurry(grace: grace, done: done) }
        let stop = GroupStop(group: pid, loop: loop, leaderGone: { [unowned self] in
            reap()
            return exit != nil
        })
        self.stop = stop
        stop.hurry(grace: grace, done: done)
    }

    /// Reaps the command and the orphans of its group that faultline adopted.
    fileprivate func reap() {
        guard pid > 0 else { return }
        var raw: Int32 = 0
        // The leader first (it may have left its group), then the group.
        for target in [pid, -pid] {
            while case let reaped = waitpid(target, &raw, WNOHANG), reaped > 0 {
                guard reaped == pid, exit == nil else { continue }
                // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
                let ended: CommandExit = (raw & 0x7f) == 0 ? .exited((raw >> 8) & 0xff) : .killed(signal: raw & 0x7f)
                exit = ended
                onExit?(ended)
            }
        }
    }

    private static func spawn(_ arguments: [String], stdout: Int32, stderr: Int32) throws -> pid_t {
        guard let program = arguments.first else { throw CommandError(message: "no command given after --") }
        let path = try resolve(program)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var error: Int32 = 0
        let pid = fl_spawn_in_group(path, &argv, environ, stdout, stderr, &error)
        guard pid > 0 else {
            throw CommandError(message: "cannot start '\(program)': \(String(cString: strerror(error)))")
        }
        return pid
    }

    /// The file `execvp` would run for `program`: searched here, before the fork, because the
    /// child may not allocate (see spawn.c).
    private static func resolve(_ program: String) throws -> String {
        if program.contains("/") { return program }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        var denied = false
        for folder in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (folder.isEmpty ? "." : String(folder)) + "/" + program
            var info = stat()
            guard stat(candidate, &info) == 0, info.st_mode & S_IFMT != S_IFDIR else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            denied = true
        }
        throw CommandError(message: "cannot start '\(program)': "
                           + (denied ? "Permission denied" : "command not found on PATH"))
    }
}

/// How the command under test ended.
public enum CommandExit: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this code.
    case exited(Int32)
    /// A signal killed it.
    case killed(signal: Int32)

    /// The shell's view: the exit code, or 128+N when killed by signal N.
    public var status: Int32 {
        switch self {
        case .exited(let code): return code
        case .killed(let signo): return 128 + signo
        }
    }

    /// Whether it exited 0.
    public var succeeded: Bool { self == .exited(0) }

    /// `exited with status 3`, `killed by SIGKILL (signal 9)`.
    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .killed(let signo): return "killed by \(SignalName.of(signo))"
        }
    }
}

/// Signal names as people know them, for messages.
public enum SignalName {
    /// `SIGTERM (signal 15)`, or `signal 42` for one without a common name.
    public static func of(_ signo: Int32) -> String {
        names[signo].map { "\($0) (signal \(signo))" } ?? "signal \(signo)"
    }

    /// `SIGTERM`, or `signal 42` for one without a common name.
    public static func short(_ signo: Int32) -> String {
        names[signo] ?? "signal \(signo)"
    }

    private static let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGABRT: "SIGABRT",
        SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV",
        SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
    ]
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
