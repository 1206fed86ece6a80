import CEvent
import CShims
import Glibc

/// A pseudo-terminal the command under test writes to while the live view owns the real one.
///
/// The command still sees a terminal (`isatty` is true, so Python and most tools keep line
/// buffering and colours, and their output shows as it happens), while faultline reads every
/// byte and prints it above the live view instead of letting it tear through the redraws.
/// The pty copies the real terminal's size and modes, minus output post-processing, so a
/// line arrives here ending in `\n` exactly as the command wrote it.
public final class CommandTerminal {
    /// The end the command writes to (its stdout/stderr); close it here once the command runs.
    public private(set) var terminal: Int32
    private let controller: Int32
    private var readEvent: OpaquePointer?
    private var onOutput: (([UInt8]) -> Void)?

    /// Opens a pty shaped like the terminal on `like` (faultline's stderr).
    public init(like: Int32 = 2) throws {
        var modes = termios()
        var size = winsize()
        let hasModes = tcgetattr(like, &modes) == 0
        modes.c_oflag &= ~tcflag_t(OPOST)
        let hasSize = ioctl(like, UInt(TIOCGWINSZ), &size) == 0
        var controller: Int32 = -1
        var terminal: Int32 = -1
        let opened = withUnsafePointer(to: &modes) { modesPointer in
            withUnsafePointer(to: &size) { sizePointer in
                fl_openpty(&controller, &terminal, hasModes ? modesPointer : nil, hasSize ? sizePointer : nil)
            }
        }
        guard opened == 0 else {
            throw CommandError(message: "cannot open a pseudo-terminal for the command: \(String(cString: strerror(errno)))")
        }
        // Neither end may leak into the command beyond its stdout/stderr, nor the controller block the loop.
        _ = fcntl(controller, F_SETFD, FD_CLOEXEC)
        _ = fcntl(terminal, F_SETFD, FD_CLOEXEC)
        _ = fcntl(controller, F_SETFL, fcntl(controller, F_GETFL) | O_NONBLOCK)
        self.controller = controller
        self.terminal = terminal
    }

    deinit {
        if let readEvent { event_free(readEvent) }
        closeTerminal()
        close(controller)
    }

    /// Delivers what the command writes, on the loop thread, chunk by chunk.
    public func watch(loop: EventLoop, onOutput: @escaping ([UInt8]) -> Void) {
        self.onOutput = onOutput
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(loop.base, controller, Int16(EV_READ | EV_PERSIST), terminalReadable, me)
        event_add(readEvent, nil)
    }

    /// Closes faultline's copy of the command's end: once the command and everything it
    /// started are gone, reads see the end of output.
    public func closeTerminal() {
        guard terminal >= 0 else { return }
        close(terminal)
        terminal = -1
    }

    /// Reads everything written so far (at the end of a run, before the last output is shown).
    public func drain() {
        while readAvailable() {}
    }

    /// One read; false when nothing (more) is there now or the output has ended.
    @discardableResult
    fileprivate func readAvailable() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let count = buffer.withUnsafeMutableBytes { read(controller, $0.baseAddress, $0.count) }
        guard count > 0 else {
            // EIO: every writer is gone, which is the pty's end of file.
            if count == 0 || (errno != EAGAIN && errno != EINTR), let readEvent { event_del(readEvent) }
            return false
        }
        onOutput?(Array(buffer[0..<count]))
        return true
    }
}

private func terminalReadable(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<CommandTerminal>.fromOpaque(arg).takeUnretainedValue().readAvailable()
}
