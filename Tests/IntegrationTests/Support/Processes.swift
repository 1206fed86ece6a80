import Foundation
import Glibc
import XCTest

/// How a child process ended.
enum Termination: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    var description: String {
        switch self {
        case let .exited(code): return "exit status \(code)"
        case let .signaled(signo): return "killed by signal \(signo)"
        }
    }
}

/// A child process started with posix_spawn, its stdout and stderr in files (files, not pipes:
/// a chatty child can never block on a full pipe the test forgot to drain). The test reaps it
/// itself with waitpid, so the PID cannot be reused while we hold it and `signal` is safe.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let name: String
    let stdoutPath: String
    let stderrPath: String
    private let lock = NSLock()
    private var ended: Termination?

    private init(pid: pid_t, name: String, stdoutPath: String, stderrPath: String) {
        self.pid = pid
        self.name = name
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    /// Starts `executable` with `arguments`; SIGINT, SIGTERM and SIGPIPE start at their
    /// defaults and nothing is blocked, whatever the test runner did to its own signals.
    static func spawn(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let name = (executable as NSString).lastPathComponent
        let serial = ChildRegistry.shared.nextSerial()
        let directory = ChildRegistry.shared.directory
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stdoutPath = "\(directory)/\(serial)-\(name).stdout"
        let stderrPath = "\(directory)/\(serial)-\(name).stderr"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signo in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signo) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else { throw SystemCallFailure(call: "posix_spawn \(executable)", code: status) }
        let child = ChildProcess(pid: pid, name: name, stdoutPath: stdoutPath, stderrPath: stderrPath)
        ChildRegistry.shared.add(child)
        return child
    }

    /// How it ended, if it has (reaps it without waiting).
    var termination: Termination? {
        lock.lock()
        defer { lock.unlock() }
        if let ended { return ended }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        ended = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        return ended
    }

    var isRunning: Bool { termination == nil }

    /// Sends `signo` unless the process was already reaped (then the PID may belong to another).
    func signal(_ signo: Int32) {
        lock.lock()
        defer { lock.unlock() }
        if ended == nil { kill(pid, signo) }
    }

    /// Waits up to `timeout` seconds for it to end.
    func waitForExit(timeout: Double) -> Termination? {
        var result: Termination?
        _ = waitUntil(timeout: timeout) {
            result = termination
            return result != nil
        }
        return result
    }

    /// SIGTERM, then SIGKILL if it is still there after `grace` seconds; returns how it ended.
    @discardableResult
    func stop(grace: Double = 3) -> Termination? {
        if let ended = termination { return ended }
        signal(SIGTERM)
        if let ended = waitForExit(timeout: grace) { return ended }
        signal(SIGKILL)
        return waitForExit(timeout: 5)
    }

    var stdoutText: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderrText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until stderr contains `needle` (logs may land a moment after the event).
    func waitForStderr(containing needle: String, timeout: Double) -> Bool {
        waitUntil(timeout: timeout) { stderrText.contains(needle) }
    }

    /// Resident memory in KB (VmRSS of /proc/PID/status).
    var residentKB: Int? {
        let status = Sock.readProcFile("/proc/\(pid)/status")
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }

    /// Open descriptors (entries of /proc/PID/fd).
    var openDescriptors: Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// The descriptor count once it stopped changing (closed links' sockets are gone), within 5 s.
    func settledDescriptors() throws -> Int {
        var last = -1
        _ = waitUntil(timeout: 5) {
            let now = openDescriptors ?? -1
            defer { last = now }
            usleep(100_000)
            return now == last
        }
        return try XCTUnwrap(openDescriptors)
    }
}

/// Every child a test started, so tearDown can stop leftovers by PID (never by name).
final class ChildRegistry: @unchecked Sendable {
    static let shared = ChildRegistry()
    let directory: String
    private let lock = NSLock()
    private var children: [ChildProcess] = []
    private var serial = 0

    private init() {
        directory = NSTemporaryDirectory() + "faultline-it-\(getpid())"
    }

    func nextSerial() -> Int {
        lock.lock()
        defer { lock.unlock() }
        serial += 1
        return serial
    }

    func add(_ child: ChildProcess) {
        lock.lock()
        children.append(child)
        lock.unlock()
    }

    /// Stops every child still running; deletes their output files when the test passed
    /// (kept otherwise, for reading the proxy's log after a failure).
    func stopAll(keepOutput: Bool) {
        lock.lock()
        let all = children
        children.removeAll()
        lock.unlock()
        for child in all {
            child.stop(grace: 1)
            if !keepOutput {
                try? FileManager.default.removeItem(atPath: child.stdoutPath)
                try? FileManager.default.removeItem(atPath: child.stderrPath)
            }
        }
        rmdir(directory)  // only goes when empty, i.e. when nothing was kept for a failure
    }
}

/// Runs a command to completion (killed after `timeout` seconds) and returns its output.
func runCommand(_ executable: String, _ arguments: [String], timeout: Double) throws -> (Termination?, stdout: String, stderr: String) {
    let child = try ChildProcess.spawn(executable, arguments)
    let ended = child.waitForExit(timeout: timeout) ?? child.stop(grace: 1)
    return (ended, child.stdoutText, child.stderrText)
}

/// Starts `faultline ARGUMENTS` with `directory` as its working directory (where it keeps its
/// CA, `./.faultline/ca`), through sh because posix_spawn has no portable chdir; exec keeps the
/// PID, so the child a test stops is faultline itself.
func spawnFaultline(_ arguments: [String], in directory: String) throws -> ChildProcess {
    try ChildProcess.spawn("/bin/sh", ["-c", #"cd "$0" || exit 97; exec "$@""#, directory, try faultlineBinary()] + arguments)
}

/// `spawnFaultline` to its end (stopped after `timeout`).
func runFaultline(_ arguments: [String], in directory: String, timeout: Double) throws -> (Termination?, stdout: String, stderr: String) {
    let child = try spawnFaultline(arguments, in: directory)
    let ended = child.waitForExit(timeout: timeout) ?? child.stop(grace: 1)
    return (ended, child.stdoutText, child.stderrText)
}

/// The `faultline` binary under test: $FAULTLINE_BIN, else next to the test bundle (the same
/// scratch path's debug folder), else the package's .build-it or .build.
func faultlineBinary(file: StaticString = #filePath) throws -> String {
    if let override = ProcessInfo.processInfo.environment["FAULTLINE_BIN"] { return override }
    let packageRoot = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    var candidates: [String] = []
    if let bundle = Bundle.main.executableURL?.deletingLastPathComponent().path { candidates.append(bundle) }
    candidates.append((CommandLine.arguments[0] as NSString).deletingLastPathComponent)
    candidates += ["\(packageRoot)/.build-it/debug", "\(packageRoot)/.build/debug"]
    for folder in candidates where FileManager.default.isExecutableFile(atPath: "\(folder)/faultline") {
        return "\(folder)/faultline"
    }
    throw BinaryNotFound(searched: candidates)
}

/// A failure, not a skip: these tests exist to exercise the binary.
struct BinaryNotFound: Error, CustomStringConvertible {
    let searched: [String]
    var description: String { "no faultline binary in \(searched); run swift build or set FAULTLINE_BIN" }
}

/// A `faultline proxy` child and the port it listens on.
struct ProxyProcess {
    let process: ChildProcess
    let port: UInt16

    /// Starts `faultline proxy` and waits for its "listening on ADDR," log line to learn the
    /// port (listening on port 0 avoids racing another process for a guessed free port).
    static func start(listen: String = "127.0.0.1:0", upstream: String, _ extra: [String] = []) throws -> ProxyProcess {
        let process = try ChildProcess.spawn(try faultlineBinary(),
                                             ["proxy", "--listen", listen, "--upstream", upstream] + extra)
        var port: UInt16?
        _ = waitUntil(timeout: 10) {
            port = listeningPort(in: process.stderrText)
            return port != nil || !process.isRunning
        }
        guard let port else {
            process.stop(grace: 1)
            throw ProxyStartFailure(stderr: process.stderrText)
        }
        return ProxyProcess(process: process, port: port)
    }

    private static func listeningPort(in log: String) -> UInt16? {
        guard let start = log.range(of: "listening on ")?.upperBound,
              let comma = log[start...].firstIndex(of: ","),
              let colon = log[start..<comma].lastIndex(of: ":") else { return nil }
        return UInt16(log[log.index(after: colon)..<comma])
    }
}

struct ProxyStartFailure: Error, CustomStringConvertible {
    let stderr: String
    var description: String { "faultline proxy did not report a listening port; stderr:\n\(stderr)" }
}

/// Base class: ignores SIGPIPE (a write to a reset socket must fail, not kill the runner) and
/// stops every child the test started, by PID, when it ends.
class IntegrationCase: XCTestCase {
    override func setUp() {
        super.setUp()
        signal(SIGPIPE, SIG_IGN)
    }

    override func tearDown() {
        // hasSucceeded is false until the run finishes, after tearDown: count failures instead.
        ChildRegistry.shared.stopAll(keepOutput: (testRun?.totalFailureCount ?? 1) > 0)
        super.tearDown()
    }
}
