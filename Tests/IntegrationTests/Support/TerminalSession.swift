import Foundation
import Glibc
import XCTest

/// A real terminal for tests of what a user sees on one: a detached tmux session on a
/// private server socket, running one shell command, whose screen is read with capture-pane.
final class TerminalSession {
    private let tmux: String
    private let socket: String

    /// Starts `command` (a shell command line) in a `columns`×`rows` terminal; skips the
    /// test when tmux is not installed (apt-get install tmux).
    init(_ command: String, columns: Int = 160, rows: Int = 40) throws {
        guard let tmux = ScenarioRunCase.which("tmux") else { throw XCTSkip("tmux is not installed (apt-get install tmux)") }
        self.tmux = tmux
        socket = "faultline-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        // The shell stays after the command, so its screen can still be read when it has ended.
        let (ended, _, stderr) = try runCommand(tmux, [
            "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "\(columns)", "-y", "\(rows)",
            "\(command); echo \"exit status $?\"; sleep 600",
        ], timeout: 10)
        guard ended == .exited(0) else { throw TmuxFailure(output: stderr) }
    }

    deinit {
        // Ends this server only (its own socket), and with it the session's processes.
        _ = try? runCommand(tmux, ["-L", socket, "kill-server"], timeout: 10)
    }

    /// The visible screen, one string per row, trailing blank rows dropped.
    func screen() throws -> [String] {
        let (ended, stdout, stderr) = try runCommand(tmux, ["-L", socket, "capture-pane", "-p"], timeout: 10)
        guard ended == .exited(0) else { throw TmuxFailure(output: stderr) }
        var rows = stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while rows.last?.isEmpty == true { rows.removeLast() }
        return rows
    }

    /// Waits up to `timeout` seconds for a row containing `text`; returns the screen then.
    @discardableResult
    func waitFor(_ text: String, timeout: Double) throws -> [String] {
        let deadline = monotonicSeconds() + timeout
        var rows = try screen()
        while !rows.contains(where: { $0.contains(text) }) && monotonicSeconds() < deadline {
            usleep(100_000)
            rows = try screen()
        }
        return rows
    }

    /// Types `keys` in tmux's notation (`C-c` is Ctrl-C) into the terminal.
    func send(keys: String) throws {
        let (ended, _, stderr) = try runCommand(tmux, ["-L", socket, "send-keys", keys], timeout: 10)
        guard ended == .exited(0) else { throw TmuxFailure(output: stderr) }
    }
}

struct TmuxFailure: Error, CustomStringConvertible {
    let output: String
    var description: String { "tmux failed: \(output)" }
}
