import Faultline
import Foundation
import Glibc
import XCTest

/// Base of the RedisProtocol*Tests: a password-protected redis-server per test (started in
/// setUp on a free port, stopped by tearDown with every other child, by PID), `faultline proxy
/// --protocol redis` in front of it (plain or terminating TLS), and the clients a user runs:
/// redis-cli, redis-py (Tests/clients/redis_protocol_client.py) and raw RESP sockets.
class RedisProtocolCase: IntegrationCase {
    static let password = "faultline-redis-pass"
    private(set) var redisPort: UInt16 = 0
    private var tlsWorkspace: TLSWorkspace?

    override func setUpWithError() throws {
        try super.setUpWithError()
        let server = try TLSTools.require("redis-server", package: "redis-server")
        _ = try TLSTools.require("redis-cli", package: "redis-tools")
        let imports = try runCommand(try TLSTools.python(), ["-c", "import redis, pybreaker"], timeout: 30)
        guard imports.0 == .exited(0) else {
            throw XCTSkip("python3 lacks redis/pybreaker (pip install -r Tests/clients/requirements.txt): \(imports.stderr)")
        }
        redisPort = try Sock.freePort()
        let process = try ChildProcess.spawn(server, [
            "--port", "\(redisPort)", "--bind", "127.0.0.1", "--requirepass", Self.password, "--save", "",
            "--appendonly", "no", "--daemonize", "no",
        ])
        let ready = waitUntil(timeout: 10) {
            guard let raw = try? RawRedis(port: redisPort, timeout: 1) else { return false }
            defer { raw.close() }
            return (try? raw.call("AUTH", Self.password)) == "+OK\r\n" && (try? raw.call("PING")) == "+PONG\r\n"
        }
        guard ready else { throw RedisStartFailure(port: redisPort, output: process.stdoutText + process.stderrText) }
    }

    override func tearDown() {
        let failed = (testRun?.totalFailureCount ?? 1) > 0
        super.tearDown()
        if let tlsWorkspace {
            failed ? print("kept \(tlsWorkspace.directory)") : tlsWorkspace.remove()
        }
    }

    var upstream: String { "127.0.0.1:\(redisPort)" }

    /// The directory TLS proxies run in (their CA is made there), made on first use.
    var workspace: TLSWorkspace {
        get throws {
            if let tlsWorkspace { return tlsWorkspace }
            let made = try TLSWorkspace()
            tlsWorkspace = made
            return made
        }
    }

    /// `faultline proxy --protocol redis --seed SEED --fault F…` in front of this test's Redis;
    /// with `tls`, terminating TLS with the `valid` profile for localhost and 127.0.0.1.
    func startProxy(_ faults: [String], tls: Bool = false, seed: UInt64 = 1) throws -> ProxyProcess {
        let arguments = ["--protocol", "redis", "--seed", "\(seed)"] + faults.flatMap { ["--fault", $0] }
        guard tls else { return try ProxyProcess.start(upstream: upstream, arguments) }
        return try workspace.startProxy(upstream: upstream, arguments
            + ["--tls-profile", "valid", "--tls-host", "localhost", "--tls-host", "127.0.0.1"])
    }

    /// libevent writes its own warnings to stderr ("[warn] Epoll ADD(1) on fd 32 failed…"): a
    /// proxy that touched a closed socket says so there.
    func assertNoLibeventWarnings(_ proxy: ProxyProcess, file: StaticString = #filePath, line: UInt = #line) {
        let lines = proxy.process.stderrText.split(separator: "\n").filter { $0.hasPrefix("[warn]") || $0.hasPrefix("[err]") }
        XCTAssertEqual(lines, [], file: file, line: line)
    }

    /// `redis_protocol_client.py MODE` against `port` (through TLS when `tls`), its JSON lines.
    func python(_ mode: String, port: UInt16, tls: Bool = false, _ arguments: [String] = [], timeout: Double = 60,
                file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        var all = [TLSTools.client("redis_protocol_client.py"), mode, "--port", "\(port)", "--password", Self.password,
                   "--direct-port", "\(redisPort)"] + arguments
        if tls { all += ["--tls", "--ca", try workspace.root] }
        let (ended, stdout, stderr) = try runCommand(try TLSTools.python(), all, timeout: timeout)
        XCTAssertEqual(ended, .exited(0), "redis_protocol_client.py \(mode) \(arguments): \(stderr)\n\(stdout)", file: file, line: line)
        return stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// The first JSON line of a python run.
    func pythonOne(_ mode: String, port: UInt16, tls: Bool = false, _ arguments: [String] = [], timeout: Double = 60,
                   file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let lines = try python(mode, port: port, tls: tls, arguments, timeout: timeout, file: file, line: line)
        return try XCTUnwrap(lines.first, "redis_protocol_client.py \(mode) printed nothing", file: file, line: line)
    }

    /// `redis-cli -h 127.0.0.1 -p PORT [-a PASS] ARGS` (with --tls against the proxy's CA when `tls`).
    func cli(port: UInt16, tls: Bool = false, authenticate: Bool = true, _ arguments: [String],
             timeout: Double = 15) throws -> (ended: Termination?, stdout: String, stderr: String) {
        let tool = try TLSTools.require("redis-cli", package: "redis-tools")
        var all = ["-h", "127.0.0.1", "-p", "\(port)"]
        if authenticate { all += ["--no-auth-warning", "-a", Self.password] }
        if tls { all += ["--tls", "--cacert", try workspace.root, "--sni", "localhost"] }
        let (ended, stdout, stderr) = try runCommand(tool, all + arguments, timeout: timeout)
        return (ended, stdout, stderr)
    }

    /// A command straight to redis-server, bypassing faultline: what really happened there.
    func direct(_ arguments: String...) throws -> String {
        let raw = try RawRedis(port: redisPort)
        defer { raw.close() }
        XCTAssertEqual(try raw.call("AUTH", Self.password), "+OK\r\n")
        return try raw.call(arguments)
    }

    /// A raw RESP connection to the proxy on `port`, through TLS (trusting the workspace's CA,
    /// naming localhost) when `tls`.
    func raw(port: UInt16, tls: Bool = false, timeout: Double = 10) throws -> RawRedis {
        guard tls else { return try RawRedis(port: port, timeout: timeout) }
        let context = try TLSContext.client(caFile: try workspace.root)
        return RawRedis(stream: try TLSStream.connect(port: port, context: context, serverName: "localhost", timeout: timeout))
    }

    /// A raw connection that sent AUTH with the right password and got +OK.
    func authenticated(port: UInt16, tls: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> RawRedis {
        let connection = try raw(port: port, tls: tls)
        XCTAssertEqual(try connection.call("AUTH", Self.password), "+OK\r\n", file: file, line: line)
        return connection
    }

    /// An in-process proxy speaking Redis in front of this test's Redis, with `faults` active
    /// and every event it emits recorded (subscribed before any link exists).
    func inProcessProxy(_ faults: [String], seed: UInt64 = 1) throws -> (InProcessProxy, EventLog) {
        var options = ProxyOptions()
        options.protocol = .redis
        let proxy = try InProcessProxy(upstream: upstream, path: .splice, options: options)
        let log = EventLog()
        try proxy.onLoop { $0.bus.subscribe { log.append($0.kind) } }
        try proxy.setSeed(seed)
        for fault in faults { try proxy.add(fault) }
        return (proxy, log)
    }
}

/// Events an in-process proxy emitted, in order (appended on its loop thread).
final class EventLog: @unchecked Sendable {
    private let events = Locked<[Event.Kind]>([])

    func append(_ kind: Event.Kind) { events.update { $0.append(kind) } }

    var all: [Event.Kind] { events.current }

    /// The details of the requests started, in order (`GET key`, `AUTH`).
    var requests: [String] {
        all.compactMap { if case .requestStarted(let detail) = $0 { detail } else { nil } }
    }

    /// The answers in order: nil for a success, else "CODE from faultline|upstream".
    var answers: [String?] {
        all.compactMap {
            guard case .requestAnswered(let error, let byFaultline, _, _) = $0 else { return nil }
            return .some(error.map { "\($0) from \(byFaultline ? "faultline" : "upstream")" })
        }
    }
}

/// RESP encoding of a command as clients send it: an array of bulk strings.
func resp(_ arguments: [String]) -> [UInt8] {
    var bytes = Array("*\(arguments.count)\r\n".utf8)
    for argument in arguments {
        bytes += Array("$\(argument.utf8.count)\r\n".utf8) + Array(argument.utf8) + Array("\r\n".utf8)
    }
    return bytes
}

func resp(_ arguments: String...) -> [UInt8] { resp(arguments) }

/// A RESP bulk string reply, as Redis sends one: `$5\r\nvalue\r\n`.
func bulk(_ text: String) -> String { "$\(text.utf8.count)\r\n\(text)\r\n" }

/// One raw client connection speaking RESP (RESP2 or RESP3) over a plain socket or a TLS
/// stream: it sends bytes exactly as given and reads replies whole, as their bytes. One thread
/// at a time, except that on a plain socket one thread may send while another reads.
final class RawRedis: @unchecked Sendable {
    private var fd: Int32 = -1
    private var stream: TLSStream?
    private var buffer: [UInt8] = []

    /// A plain connection to 127.0.0.1:`port`, TCP_NODELAY so each send leaves at once.
    init(port: UInt16, timeout: Double = 10) throws {
        fd = try Sock.connect(port: port, timeout: timeout)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    init(stream: TLSStream) {
        self.stream = stream
        var one: Int32 = 1
        setsockopt(stream.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    func send(_ bytes: [UInt8]) throws {
        if let stream { return try stream.write(bytes) }
        try Sock.sendAll(fd, bytes)
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends one command and reads its reply, as text.
    func call(_ arguments: String...) throws -> String { try call(arguments) }

    func call(_ arguments: [String]) throws -> String {
        try send(resp(arguments))
        return try replyText()
    }

    /// The bytes of the next complete reply (a push counts as one); throws when the
    /// connection ends or nothing complete arrives within `timeout`.
    func reply(timeout: Double = 10) throws -> [UInt8] {
        let deadline = monotonicSeconds() + timeout
        while true {
            if let end = RESPValue.end(of: buffer, from: 0) {
                let reply = Array(buffer[0..<end])
                buffer.removeFirst(end)
                return reply
            }
            let left = deadline - monotonicSeconds()
            guard left > 0 else { throw SystemCallFailure(call: "reading a reply (have \(String(decoding: buffer, as: UTF8.self).debugDescription))", code: ETIMEDOUT) }
            buffer += try readSome(timeout: left)
        }
    }

    func replyText(timeout: Double = 10) throws -> String {
        String(decoding: try reply(timeout: timeout), as: UTF8.self)
    }

    /// Whether nothing at all arrives within `seconds` (the connection stays open and silent).
    func isSilent(for seconds: Double) -> Bool {
        guard buffer.isEmpty else { return false }
        guard let stream else { return !Sock.waitReadable(fd, timeout: seconds) }
        do {
            buffer += try stream.readExactly(1, timeout: seconds)
            return false
        } catch let failure as SystemCallFailure where failure.code == ETIMEDOUT {
            return true
        } catch {
            return false  // the stream ended: not silent
        }
    }

    /// Everything until the connection ends, and how it ended: `EOF`, `RST`, or `open` when
    /// it was still open after `timeout`; over TLS `close_notify` for an orderly TLS close and
    /// `EOF` for a TCP end without one.
    func readToEnd(timeout: Double = 10) -> (bytes: [UInt8], end: String) {
        let bytes = buffer
        buffer = []
        if let stream {
            let (more, end) = stream.readToEnd(timeout: timeout)
            switch end {
            case .closeNotify: return (bytes + more, "close_notify")
            case .eofWithoutCloseNotify: return (bytes + more, "EOF")
            case .reset: return (bytes + more, "RST")
            case .failed(let text): return (bytes + more, text.contains("timed out") ? "open" : "failed: \(text)")
            }
        }
        let (more, end) = Sock.readUntilClosed(fd, timeout: timeout)
        return (bytes + more, end)
    }

    private func readSome(timeout: Double) throws -> [UInt8] {
        if let stream { return try stream.readExactly(1, timeout: timeout) }
        guard Sock.waitReadable(fd, timeout: timeout) else { return [] }
        let (got, outcome) = Sock.receiveOnce(fd)
        guard case .bytes = outcome else {
            throw SystemCallFailure(call: "recv (\(outcome)) with \(String(decoding: buffer, as: UTF8.self).debugDescription) unread", code: EIO)
        }
        return got
    }

    func close() {
        if let stream {
            stream.close()
        } else if fd >= 0 {
            Sock.close(fd)
        }
        fd = -1
        stream = nil
    }
}

/// Where a RESP value ends, for reading replies whole (RESP2 and RESP3, attributes included).
enum RESPValue {
    /// The index after the value starting at `start`, or nil while it is incomplete.
    static func end(of bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.count, let lineEnd = crlf(in: bytes, from: start) else { return nil }
        let line = String(decoding: bytes[(start + 1)..<lineEnd], as: UTF8.self)
        let after = lineEnd + 2
        switch bytes[start] {
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let length = Int(line) else { return nil }
            if length < 0 { return after }
            return bytes.count >= after + length + 2 ? after + length + 2 : nil
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let count = Int(line) else { return nil }
            let pairs = bytes[start] == UInt8(ascii: "%") || bytes[start] == UInt8(ascii: "|")
            var index = after
            for _ in 0..<max(0, pairs ? count * 2 : count) {
                guard let next = end(of: bytes, from: index) else { return nil }
                index = next
            }
            // An attribute annotates the value after it: both are one reply.
            return bytes[start] == UInt8(ascii: "|") ? end(of: bytes, from: index) : index
        default:
            return after
        }
    }

    private static func crlf(in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == 13 && bytes[index + 1] == 10 { return index }
            index += 1
        }
        return nil
    }
}
