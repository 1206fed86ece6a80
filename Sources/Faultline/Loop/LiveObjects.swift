/// How many objects of each kind that links create are alive on one loop.
///
/// Every object a link creates must die with the link; tests compare these counts before
/// links open and after they close, so a retain cycle shows up as a number, not as slowly
/// growing RSS. Counting is two integer updates per object's life, on the loop thread only.
public struct LiveObjects: Equatable, Sendable, CustomStringConvertible {
    /// The kinds of object counted.
    public enum Kind: Int, CaseIterable, Sendable {
        case link, pipe, effect, stage, timer, tls, handshake, session
    }

    private var counts = [Int](repeating: 0, count: Kind.allCases.count)

    /// No object of any kind.
    public init() {}

    /// Objects of `kind` alive now.
    public subscript(kind: Kind) -> Int { counts[kind.rawValue] }

    mutating func add(_ kind: Kind) { counts[kind.rawValue] += 1 }
    mutating func remove(_ kind: Kind) { counts[kind.rawValue] -= 1 }

    public var description: String {
        Kind.allCases.map { "\($0): \(self[$0])" }.joined(separator: ", ")
    }
}

/// Held by an object of a counted kind: counts it on its loop from creation to deinit.
///
/// It holds the loop strongly: an object whose events live on the loop's `event_base` keeps the
/// base alive until it has freed them, whatever order a caller's locals are released in (a
/// release build freed the loop before the API server's timers, and their deinit trapped).
struct LiveToken: ~Copyable {
    private let loop: EventLoop
    private let kind: LiveObjects.Kind

    init(_ kind: LiveObjects.Kind, on loop: EventLoop) {
        self.loop = loop
        self.kind = kind
        loop.liveObjects.add(kind)
    }

    deinit { loop.liveObjects.remove(kind) }
}
