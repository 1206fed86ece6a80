import Glibc

/// Ends a process group without blocking the loop: SIGTERM, SIGKILL after a grace period to
/// whatever is left, and a report once the group is empty.
///
/// The group is checked with kill(-pgid, 0), not through its leader: a shell that exits
/// leaves its background jobs in the group, reparented to init, and they must go too. The
/// group's id cannot be reused while any member is alive, and the checks stop once it is empty.
final class GroupStop {
    /// How long to wait after SIGKILL before giving up on members that cannot be signalled
    /// (EPERM: a setuid program) or are stuck in the kernel.
    private static let killWait: Duration = .seconds(2)
    /// How often the group is checked: short enough that a run ends promptly after the last
    /// process, long enough to cost nothing.
    private static let interval: Duration = .milliseconds(20)

    private let group: pid_t
    private let leaderGone: () -> Bool
    private var killAt: ContinuousClock.Instant?
    private var giveUpAt: ContinuousClock.Instant?
    private var waiting: [() -> Void] = []
    private var timer: Timer?
    private var finished = false

    /// Prepares to stop `group`; `leaderGone` reaps the leader and says whether it has ended
    /// (until then it is a member, if only as a zombie).
    init(group: pid_t, loop: EventLoop, leaderGone: @escaping () -> Bool) {
        self.group = group
        self.leaderGone = leaderGone
        timer = Timer(loop: loop) { [unowned self] in check() }
        kill(-group, SIGTERM)
    }

    /// Adds `done` to the callbacks for the empty group; a grace shorter than what is left of
    /// the current one brings the SIGKILL forward.
    func hurry(grace: Duration, done: @escaping () -> Void) {
        if finished { return done() }
        waiting.append(done)
        let deadline = ContinuousClock.now + grace
        if giveUpAt == nil, killAt.map({ deadline < $0 }) ?? true { killAt = deadline }
        check()
    }

    private func check() {
        guard !finished else { return }
        if leaderGone() && !hasMembers { return finish() }
        let now = ContinuousClock.now
        if let killAt, now >= killAt {
            kill(-group, SIGKILL)
            self.killAt = nil
            giveUpAt = now + Self.killWait
        }
        if let giveUpAt, now >= giveUpAt { return finish() }
        timer?.schedule(after: Self.interval)
    }

    private var hasMembers: Bool { kill(-group, 0) == 0 || errno == EPERM }

    private func finish() {
        finished = true
        timer?.cancel()
        let callbacks = waiting
        waiting = []
        callbacks.forEach { $0() }
    }
}
