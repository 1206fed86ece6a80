/// A protocol spoken on one link (`protocol: redis`, `protocol: http`): it frames what each
/// pipe reads, lets the proxy's per-message faults decide, and hands bytes on in order. The
/// pipes call it; it owns what they read into their intakes until it emits them.
protocol LinkSession: AnyObject {
    /// New bytes arrived in `pipe`'s intake.
    func take(from pipe: Pipe)
    /// `pipe`'s source reached its end.
    func sourceEnded(_ pipe: Pipe)
    /// The client-bound buffer drained.
    func clientDrained()
    /// The proxy shuts down: whatever the session holds back goes on now.
    func releaseHolds()
    /// A fault was added to the proxy: it may act on what is under way (an open WebSocket).
    func faultAdded(_ state: FaultState)
    /// The fault called `name` was removed: what it holds is released.
    func faultRemoved(_ name: String)
    /// Requests went to the upstream and their answers have not all come: a link draining at
    /// shutdown reads the upstream until they have (`Link.answersSettled`).
    var awaitsAnswers: Bool { get }
    /// The link closed: no timer may call back.
    func dispose()
    /// Whether what `pipe` reads next can go straight through (framed in place for facts).
    func passesThrough(_ pipe: Pipe) -> Bool
    /// Frames `bytes` just read by `pipe`: how many leading bytes go on, and whether the rest
    /// broke the protocol (then `failThrough` once those went on). Short of the end without
    /// a failure, the rest is put in the pipe's intake and handed to `take(from:)`.
    func frameThrough(_ pipe: Pipe, _ bytes: UnsafeRawBufferPointer) -> (through: Int, failed: Bool)
    /// `pipe` wrote what went straight through.
    func wroteThrough(_ pipe: Pipe)
    /// The bytes before a protocol error went on: the error is handled now.
    func failThrough(_ pipe: Pipe)
}
