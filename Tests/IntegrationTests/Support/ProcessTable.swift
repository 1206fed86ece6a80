import Foundation
import Glibc
import XCTest

/// The machine's processes as `ps -eo pid,pgid,args` shows them, the way a user looks for
/// what a run left behind. Tests give each command a unique marker argument (`sleep
/// 1031.482113`) and look for it.
enum ProcessTable {
    /// A process whose command line holds a marker.
    struct Entry: CustomStringConvertible {
        let pid: pid_t
        let pgid: pid_t
        let args: String
        var description: String { "\(pid) \(pgid) \(args)" }
    }

    /// Every live process whose arguments contain `marker`, except `excluding` (faultline
    /// itself, whose own command line names its command). Zombies show as `[name] <defunct>`
    /// and do not match.
    static func matching(_ marker: String, excluding: pid_t? = nil) throws -> [Entry] {
        let (ended, stdout, stderr) = try runCommand("/bin/ps", ["-eo", "pid=,pgid=,args="], timeout: 10)
        guard ended == .exited(0) else { throw PSFailure(output: stderr) }
        return stdout.split(separator: "\n").compactMap { line -> Entry? in
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard fields.count == 3, let pid = pid_t(fields[0]), let pgid = pid_t(fields[1]),
                  fields[2].contains(marker), pid != excluding else { return nil }
            return Entry(pid: pid, pgid: pgid, args: String(fields[2]))
        }
    }

    /// A marker no other test or user process holds: a sleep length such as `1031.482113`.
    static func marker(_ base: Int) -> String { "\(base).\(Int.random(in: 100_000...999_999))" }

    /// SIGKILLs, by PID, what a failed test left behind, so one failure does not leak into the next.
    static func killLeftovers(_ marker: String) {
        (try? matching(marker))?.forEach { kill($0.pid, SIGKILL) }
    }
}

struct PSFailure: Error, CustomStringConvertible {
    let output: String
    var description: String { "ps failed: \(output)" }
}
