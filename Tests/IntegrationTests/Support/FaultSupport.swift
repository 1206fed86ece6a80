import Faultline
import Foundation
import Glibc

/// Faults on an in-process proxy. The proxy may only be touched on its loop thread, so each
/// helper runs there through `onLoop` (which waits), and returns once the change is live:
/// a test that adds a fault and then sends a byte knows the fault sees that byte.
extension InProcessProxy {
    /// A proxy with `faults` (as `--fault` texts) active and `seed` set before it accepts
    /// anything, so even the first connection meets them.
    convenience init(upstream: String, faults: [String], seed: UInt64 = 0, path: DataPath = .splice) throws {
        try self.init(upstream: upstream, path: path)
        try setSeed(seed)
        for text in faults { try add(text) }
    }

    func add(_ fault: Fault) throws {
        let outcome = try onLoop { proxy in Result { try proxy.add(fault) } }
        try outcome.get()
    }

    /// Adds the fault written as on the command line; returns its name.
    @discardableResult
    func add(_ text: String) throws -> String {
        let fault = try parseFault(text)
        try add(fault)
        return fault.name
    }

    @discardableResult
    func removeFault(named name: String) throws -> Bool {
        try onLoop { $0.removeFault(named: name) }
    }

    func setSeed(_ seed: UInt64) throws {
        try onLoop { $0.seed = seed }
    }

    var activeFaults: [String] {
        get throws { try onLoop { $0.faults.map(\.name) } }
    }
}

/// `KIND:k=v,…` → `Fault`, exactly as `--fault` reads it.
func parseFault(_ text: String) throws -> Fault {
    try Fault(parsing: FaultSpec(parsing: text))
}

extension Sock {
    /// Whether `fd` becomes readable (bytes, EOF or an error) within `timeout` seconds.
    static func waitReadable(_ fd: Int32, timeout: Double) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(timeout * 1000)) > 0
    }

    /// One recv(2) of at most `size` bytes, returning them with how it went.
    static func receiveOnce(_ fd: Int32, size: Int = 64 * 1024) -> (bytes: [UInt8], outcome: Received) {
        var buffer = [UInt8](repeating: 0, count: size)
        let outcome = buffer.withUnsafeMutableBytes { Sock.receive(fd, into: $0) }
        if case let .bytes(got) = outcome { return (Array(buffer[0..<got]), outcome) }
        return ([], outcome)
    }

    /// Reads until EOF or an error and says how it ended, dropping the bytes: for "what does
    /// the client meet at the end of this connection".
    static func ending(_ fd: Int32) -> (count: Int, end: Received) {
        let (bytes, end) = readToEnd(fd)
        return (bytes.count, end)
    }

    /// Sends `message` to an echo upstream and waits for it to come back; returns the
    /// seconds it took, or throws if the link ended instead.
    static func roundTrip(_ fd: Int32, _ message: [UInt8]) throws -> Double {
        let started = monotonicSeconds()
        try sendAll(fd, message)
        let echoed = try readExactly(fd, message.count)
        guard echoed == message else { throw SystemCallFailure(call: "echo returned other bytes", code: EIO) }
        return monotonicSeconds() - started
    }
}

/// What one connection through a proxy to an echo upstream met: the deciding observation of
/// the selection tests (which connections did a fault pick?).
enum ProbeOutcome: Equatable, CustomStringConvertible {
    /// The echo came back: the fault did not apply.
    case passed
    case reset
    case eof
    case refused
    case other(String)

    var description: String {
        switch self {
        case .passed: return "pass"
        case .reset: return "RST"
        case .eof: return "EOF"
        case .refused: return "refused"
        case let .other(text): return text
        }
    }

    /// Connects to `port`, sends a line and reads until the echo is back or the link ends.
    static func probe(port: UInt16, timeout: Double = 5) -> ProbeOutcome {
        let fd: Int32
        do {
            fd = try Sock.connect(port: port, timeout: timeout)
        } catch let failure as SystemCallFailure where failure.code == ECONNREFUSED {
            return .refused
        } catch {
            return .other("\(error)")
        }
        defer { Sock.close(fd) }
        let message = Array("probe\n".utf8)
        do {
            try Sock.sendAll(fd, message)
        } catch let failure as SystemCallFailure {
            // The RST came before the send: Linux reports it to this send only, and a later
            // recv would read a plain EOF, so the send's error is the observation.
            return failure.code == ECONNRESET ? .reset : .other("send: errno \(failure.code)")
        } catch {
            return .other("\(error)")
        }
        var got = 0
        while got < message.count {
            switch Sock.receiveOnce(fd, size: message.count - got).outcome {
            case let .bytes(count): got += count
            case .eof: return .eof
            case .failed(ECONNRESET), .failed(EPIPE): return .reset
            case let .failed(code): return .other("errno \(code)")
            }
        }
        return .passed
    }
}

/// A one-connection upstream on its own listening socket: the test scripts what it does with
/// the connection it accepts (send, read, close, reset) in a worker.
struct ScriptedUpstream {
    let listener: Int32
    let port: UInt16

    init() throws { (listener, port) = try Sock.listen() }

    var address: String { "127.0.0.1:\(port)" }

    /// Accepts one connection (waiting at most `acceptTimeout`) and runs `script` on it in
    /// a worker; the socket is closed when the script returns.
    func serve<T>(acceptTimeout: Double = 10, _ script: @escaping @Sendable (Int32) throws -> T) -> Worker<T> {
        let listener = listener
        return Worker("scripted upstream") {
            let fd = try Sock.accept(listener, timeout: acceptTimeout)
            defer { Sock.close(fd) }
            Sock.setTimeouts(fd, seconds: 10)
            return try script(fd)
        }
    }

    func close() { Sock.close(listener) }
}
