/// One direction's pass of a protocol session (framing what a pipe read, handing it on). A
/// call while a pass is under way (a flush draining the client's buffer, a fault removed, the
/// other direction's pass) asks for one more pass instead of nesting, so no wake-up is lost
/// and no pass sees another's half-done state.
final class ReentrantPass {
    private var running = false
    private var again = false

    func run(_ pass: () -> Void) {
        if running {
            again = true
            return
        }
        running = true
        defer { running = false }
        repeat {
            again = false
            pass()
        } while again
    }
}
