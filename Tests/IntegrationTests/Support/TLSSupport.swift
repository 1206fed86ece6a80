import COpenSSL
import Foundation
import Glibc
import XCTest

// What the TLS tests share: a working directory per test for faultline's CA, the tools a user
// runs (python3, openssl, curl, redis), and TLS endpoints in Swift (OpenSSL, non-blocking,
// one thread per endpoint driving both directions) for what a script cannot do precisely:
// 64 MB each way at once, half-closes, resets, thousands of short links.

// MARK: - Tools

enum TLSTools {
    static let packageRoot = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `Tests/clients/NAME`.
    static func client(_ name: String) -> String { "\(packageRoot)/Tests/clients/\(name)" }

    /// The first executable `tool` on PATH (then the usual folders).
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        return (path + ["/usr/bin", "/usr/local/bin", "/bin"]).map { "\($0)/\(tool)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `which(tool)`, or a skip naming the package that brings it.
    static func require(_ tool: String, package: String) throws -> String {
        guard let path = which(tool) else { throw XCTSkip("\(tool) is not installed (apt-get install \(package))") }
        return path
    }

    /// The python3 interpreter itself (sys.executable), so a pyenv shim's start-up is paid once.
    static func python() throws -> String {
        if let known = resolvedPython.current { return known }
        let shim = try require("python3", package: "python3")
        let (ended, stdout, _) = try runCommand(shim, ["-c", "import sys; print(sys.executable)"], timeout: 30)
        let path = stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let chosen = ended == .exited(0) && FileManager.default.isExecutableFile(atPath: path) ? path : shim
        resolvedPython.update { $0 = chosen }
        return chosen
    }

    private static let resolvedPython = Locked<String?>(nil)
}

// MARK: - A working directory for faultline's CA

/// A fresh directory that the test's faultline processes run in: their `./.faultline/ca` is
/// created there, so no test touches the repository's (or another test's) CA. Removed by
/// `remove()` when the test passed (kept after a failure, for reading).
final class TLSWorkspace: @unchecked Sendable {
    let directory: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "faultline-tls-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemCallFailure(call: "mkdtemp", code: errno) }
        directory = String(cString: made)
    }

    /// The root faultline's CA made here: what a client is told to trust.
    var root: String { "\(directory)/.faultline/ca/root.pem" }

    /// Runs `faultline ARGS` with this directory as its working directory, without waiting.
    func spawnFaultline(_ arguments: [String]) throws -> ChildProcess {
        try IntegrationTests.spawnFaultline(arguments, in: directory)
    }

    /// `faultline proxy --listen 127.0.0.1:0 --upstream UPSTREAM EXTRA…` in this directory,
    /// once it logged the port it listens on.
    func startProxy(upstream: String, _ extra: [String]) throws -> ProxyProcess {
        let process = try spawnFaultline(["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream] + extra)
        var port: UInt16?
        _ = waitUntil(timeout: 15) {
            port = Self.listeningPort(in: process.stderrText)
            return port != nil || !process.isRunning
        }
        guard let port else {
            process.stop(grace: 1)
            throw ProxyStartFailure(stderr: process.stderrText)
        }
        return ProxyProcess(process: process, port: port)
    }

    /// `faultline certs --profile PROFILE --host … --out DIR` in this directory; returns the
    /// bundle's files once the command exited 0.
    func certs(profile: String, hosts: [String], key: String? = nil, out name: String) throws -> CertificateBundleFiles {
        let out = "\(directory)/\(name)"
        let process = try spawnFaultline(["certs", "--profile", profile] + hosts.flatMap { ["--host", $0] }
                                         + (key.map { ["--key", $0] } ?? []) + ["--out", out])
        let ended = process.waitForExit(timeout: 30) ?? process.stop(grace: 1)
        guard ended == .exited(0) else {
            throw CertsFailure(ended: ended, output: process.stdoutText + process.stderrText)
        }
        return CertificateBundleFiles(directory: out, stdout: process.stdoutText)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    static func listeningPort(in log: String) -> UInt16? {
        guard let start = log.range(of: "listening on ")?.upperBound,
              let comma = log[start...].firstIndex(of: ","),
              let colon = log[start..<comma].lastIndex(of: ":") else { return nil }
        return UInt16(log[log.index(after: colon)..<comma])
    }
}

/// A redis-server serving TLS only, with its `faultline certs` bundle.
struct TLSRedis {
    let port: UInt16
    let bundle: CertificateBundleFiles
    var address: String { "127.0.0.1:\(port)" }
    /// The root its certificate chains to.
    var ca: String { bundle.ca }
}

extension TLSWorkspace {
    /// redis-server on a TLS port only, presenting `faultline certs --profile valid --host
    /// localhost --host 127.0.0.1` made in this workspace; ready once it answers PING over TLS.
    func startTLSRedis(maxClients: Int? = nil) throws -> TLSRedis {
        let server = try TLSTools.require("redis-server", package: "redis-server")
        _ = try TLSTools.require("redis-cli", package: "redis-tools")
        let bundle = try certs(profile: "valid", hosts: ["localhost", "127.0.0.1"], out: "redis-certs")
        XCTAssertTrue(bundle.stdout.contains("wrote \(bundle.directory)/ca.pem: the root to trust"), bundle.stdout)
        let port = try Sock.freePort()
        let process = try ChildProcess.spawn(server, [
            "--port", "0", "--tls-port", "\(port)", "--bind", "127.0.0.1", "--dir", directory,
            "--tls-cert-file", bundle.cert, "--tls-key-file", bundle.key, "--tls-ca-cert-file", bundle.ca,
            "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--daemonize", "no",
        ] + (maxClients.map { ["--maxclients", "\($0)"] } ?? []))
        let context = try TLSContext.client(caFile: bundle.ca)
        let ready = waitUntil(timeout: 10) {
            guard let stream = try? TLSStream.connect(port: port, context: context, timeout: 1) else { return false }
            defer { stream.close() }
            return (try? stream.write(Array("PING\r\n".utf8))) != nil
                && (try? stream.readExactly(7, timeout: 1)) == Array("+PONG\r\n".utf8)
        }
        guard ready else { throw RedisStartFailure(port: port, output: process.stdoutText + process.stderrText) }
        return TLSRedis(port: port, bundle: bundle)
    }
}

/// What `faultline certs` wrote.
struct CertificateBundleFiles {
    let directory: String
    let stdout: String
    var ca: String { "\(directory)/ca.pem" }
    var cert: String { "\(directory)/cert.pem" }
    var key: String { "\(directory)/key.pem" }
}

struct CertsFailure: Error, CustomStringConvertible {
    let ended: Termination?
    let output: String
    var description: String { "faultline certs ended with \(ended.map { "\($0)" } ?? "no exit"):\n\(output)" }
}

/// Base class of the TLS tests: a workspace per test, removed when the test passed.
class TLSIntegrationCase: IntegrationCase {
    private(set) var workspace: TLSWorkspace!

    override func setUpWithError() throws {
        try super.setUpWithError()
        workspace = try TLSWorkspace()
    }

    override func tearDown() {
        let failed = (testRun?.totalFailureCount ?? 1) > 0
        super.tearDown()  // stops the children first: nothing writes into the folder after
        if failed {
            print("kept \(workspace.directory) and the children's output in \(ChildRegistry.shared.directory)")
        } else {
            workspace.remove()
        }
    }

    /// Runs `tool ARGS` (bounded) and returns how it ended with its output.
    func run(_ tool: String, _ arguments: [String], timeout: Double = 20) throws -> (ended: Termination?, stdout: String, stderr: String) {
        let (ended, stdout, stderr) = try runCommand(tool, arguments, timeout: timeout)
        return (ended, stdout, stderr)
    }

    /// `Tests/clients/tls_client.py ARGS`, its JSON lines decoded.
    func pythonClient(_ arguments: [String], timeout: Double = 30,
                      file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let (ended, stdout, stderr) = try run(try TLSTools.python(), [TLSTools.client("tls_client.py")] + arguments, timeout: timeout)
        XCTAssertEqual(ended, .exited(0), "tls_client.py \(arguments): \(stderr)", file: file, line: line)
        return stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// One connection of tls_client.py.
    func pythonConnection(port: UInt16, _ arguments: [String], timeout: Double = 30,
                          file: StaticString = #filePath, line: UInt = #line) throws -> PythonOutcome {
        let lines = try pythonClient(["--port", "\(port)"] + arguments, timeout: timeout, file: file, line: line)
        guard let first = lines.first else {
            XCTFail("tls_client.py printed nothing", file: file, line: line)
            return PythonOutcome(fields: [:])
        }
        return PythonOutcome(fields: first)
    }

    /// `openssl s_client` verifying as a strict client does, against `root`, for `localhost`;
    /// stdin is /dev/null, so it ends right after the handshake (or with `-ign_eof`, when the
    /// server closes).
    func sClient(port: UInt16, root: String, _ extra: [String] = []) throws -> (ended: Termination?, output: String) {
        let openssl = try TLSTools.require("openssl", package: "openssl")
        let (ended, stdout, stderr) = try run(openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-verify_return_error",
                                                       "-verify_hostname", "localhost", "-CAfile", root] + extra, timeout: 15)
        return (ended, stdout + stderr)
    }

    /// `curl` to `https://localhost:PORT/` (resolved to 127.0.0.1 only, where the proxy listens).
    func curl(port: UInt16, _ extra: [String]) throws -> (ended: Termination?, stdout: String, stderr: String) {
        let curl = try TLSTools.require("curl", package: "curl")
        return try run(curl, ["-sS", "--max-time", "10", "--resolve", "localhost:\(port):127.0.0.1"] + extra
                       + ["https://localhost:\(port)/"], timeout: 15)
    }

    /// The proxy's log lines after the `[Faultline] ` tag, for reading what it said.
    func messages(_ proxy: ProxyProcess) -> [String] {
        proxy.process.stderrText.split(separator: "\n").map { line in
            line.range(of: "[Faultline] ").map { String(line[$0.upperBound...]) } ?? String(line)
        }
    }

    /// The proxy's log lines at warning level or above, whole.
    func warnings(_ proxy: ProxyProcess) -> [String] {
        proxy.process.stderrText.split(separator: "\n").map(String.init).filter {
            [" warning ", " error ", " critical "].contains(where: $0.contains)
        }
    }

    /// Waits until the proxy logged `count` lines containing `needle`.
    @discardableResult
    func waitForLog(_ proxy: ProxyProcess, _ needle: String, count: Int = 1, timeout: Double = 5) -> Bool {
        waitUntil(timeout: timeout) { messages(proxy).filter { $0.contains(needle) }.count >= count }
    }
}

/// One line of tls_client.py.
struct PythonOutcome: CustomStringConvertible {
    let fields: [String: Any]
    var stage: String { fields["stage"] as? String ?? "?" }
    var error: String? { fields["error"] as? String }
    var message: String? { fields["message"] as? String }
    var received: String? { fields["received"] as? String }
    var verifyCode: Int? { fields["verify_code"] as? Int }
    var verifyMessage: String? { fields["verify_message"] as? String }
    var handshakeSeconds: Double? { fields["handshake_seconds"] as? Double }
    var completed: Bool { stage == "done" }
    var description: String {
        (try? String(data: JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), encoding: .utf8)) ?? "\(fields)"
    }
}

// MARK: - HTTP upstream

/// A tiny HTTP/1.1 upstream: answers every request with 200 and `body`, then closes. One
/// thread, one connection at a time (the TLS tests send one request at a time).
final class HTTPResponder: @unchecked Sendable {
    let port: UInt16
    let body: String
    private let listener: Int32
    private let stopping = Locked(false)
    let served = Locked(0)
    private var worker: Worker<Void>?

    init(body: String) throws {
        self.body = body
        (listener, port) = try Sock.listen()
        worker = Worker("http responder") { [self] in serve() }
    }

    var address: String { "127.0.0.1:\(port)" }

    func stop() {
        stopping.update { $0 = true }
        _ = try? worker?.join(timeout: 5)
        Sock.close(listener)
    }

    private func serve() {
        while !stopping.current {
            guard Sock.waitReadable(listener, timeout: 0.05),
                  let fd = try? Sock.accept(listener, timeout: 0.05) else { continue }
            Sock.setTimeouts(fd, seconds: 5)
            var request: [UInt8] = []
            while !request.containsSubsequence(Array("\r\n\r\n".utf8)) {
                let (bytes, outcome) = Sock.receiveOnce(fd, size: 4096)
                guard case .bytes = outcome else { break }
                request += bytes
            }
            if request.containsSubsequence(Array("\r\n\r\n".utf8)) {
                let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                    + "Connection: close\r\n\r\n\(body)"
                _ = try? Sock.sendAll(fd, Array(response.utf8))
                served.update { $0 += 1 }
            }
            Sock.close(fd)
        }
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

// MARK: - TLS endpoints in Swift

/// An OpenSSL error with the library's queue of reasons.
struct TLSFailure: Error, CustomStringConvertible {
    let what: String
    let reasons: String
    var description: String { "\(what): \(reasons)" }

    init(_ what: String) {
        self.what = what
        reasons = TLSFailure.drainErrors()
    }

    /// Every queued OpenSSL error as text ("error:0A000126:SSL routines::unexpected eof while
    /// reading"), emptying the queue.
    static func drainErrors() -> String {
        var texts: [String] = []
        while true {
            let code = ERR_get_error()
            guard code != 0 else { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            texts.append(String(decoding: text, as: UTF8.self))
        }
        return texts.joined(separator: "; ")
    }
}

/// An SSL_CTX for the test's own clients and servers.
final class TLSContext: @unchecked Sendable {
    let raw: OpaquePointer

    private init(method: OpaquePointer?) throws {
        guard let context = SSL_CTX_new(method) else { throw TLSFailure("SSL_CTX_new") }
        raw = context
        // Non-blocking writes of part of a buffer, retried from wherever the buffer now is.
        _ = SSL_CTX_ctrl(raw, SSL_CTRL_MODE, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
    }

    deinit { SSL_CTX_free(raw) }

    /// A client that verifies the chain against `caFile` (and the name each connection
    /// checks), or, with `caFile` nil, verifies nothing (curl -k).
    static func client(caFile: String?) throws -> TLSContext {
        let context = try TLSContext(method: TLS_client_method())
        if let caFile {
            guard SSL_CTX_load_verify_locations(context.raw, caFile, nil) == 1 else { throw TLSFailure("loading \(caFile)") }
            SSL_CTX_set_verify(context.raw, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(context.raw, SSL_VERIFY_NONE, nil)
        }
        return context
    }

    /// A server presenting `chain` (leaf first, as `faultline certs` writes cert.pem) and `key`.
    /// `anyKey` lowers OpenSSL's security level to 0, as a server still serving a SHA-1 or
    /// RSA-1024 certificate runs (level 1 refuses to load them).
    static func server(chain: String, key: String, anyKey: Bool = false) throws -> TLSContext {
        let context = try TLSContext(method: TLS_server_method())
        if anyKey { SSL_CTX_set_security_level(context.raw, 0) }
        guard SSL_CTX_use_certificate_chain_file(context.raw, chain) == 1 else { throw TLSFailure("loading \(chain)") }
        guard SSL_CTX_use_PrivateKey_file(context.raw, key, 1 /* SSL_FILETYPE_PEM */) == 1 else { throw TLSFailure("loading \(key)") }
        return context
    }
}

/// How a TLS stream's reading side ended.
enum TLSEnd: Equatable, CustomStringConvertible {
    /// The peer's close_notify: an orderly TLS close.
    case closeNotify
    /// TCP EOF without close_notify (a truncation a strict client reports).
    case eofWithoutCloseNotify
    /// ECONNRESET.
    case reset
    /// Anything else (an alert, a protocol error, a timeout), as OpenSSL or errno said it.
    case failed(String)

    var description: String {
        switch self {
        case .closeNotify: return "close_notify"
        case .eofWithoutCloseNotify: return "EOF without close_notify"
        case .reset: return "RST"
        case let .failed(text): return "failed: \(text)"
        }
    }

    /// An orderly end, with or without close_notify.
    var isOrderly: Bool { self == .closeNotify || self == .eofWithoutCloseNotify }
}

/// What a TLS reader got: every byte's digest and how the stream ended.
struct TLSReception {
    var digest: StreamDigest
    var end: TLSEnd
}

/// One TLS connection over a non-blocking socket, driven by poll(2) on the calling thread.
/// Not thread-safe: one thread drives both directions (`duplex`), as OpenSSL requires.
final class TLSStream: @unchecked Sendable {
    let fd: Int32
    let ssl: OpaquePointer
    private var closed = false
    private(set) var sentCloseNotify = false

    /// Wraps the connected socket `fd` (which it owns from now on).
    init(fd: Int32, context: TLSContext, serverName: String?, isServer: Bool) throws {
        guard let ssl = SSL_new(context.raw) else {
            Glibc.close(fd)
            throw TLSFailure("SSL_new")
        }
        self.fd = fd
        self.ssl = ssl
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        SSL_set_fd(ssl, fd)
        if isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let serverName {
                _ = serverName.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
                _ = SSL_set1_host(ssl, serverName)
            }
        }
    }

    deinit {
        SSL_free(ssl)
        if !closed { Glibc.close(fd) }
    }

    /// TCP connect to 127.0.0.1:`port`, then the handshake as a client naming `serverName`.
    static func connect(port: UInt16, context: TLSContext, serverName: String? = "localhost",
                        timeout: Double = 10) throws -> TLSStream {
        let fd = try Sock.connect(port: port, timeout: timeout)
        let stream = try TLSStream(fd: fd, context: context, serverName: serverName, isServer: false)
        try stream.handshake(timeout: timeout)
        return stream
    }

    /// Drives the handshake to its end; throws with OpenSSL's reasons when it fails.
    func handshake(timeout: Double) throws {
        let deadline = monotonicSeconds() + timeout
        while true {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 { return }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ: try wait(POLLIN, until: deadline, doing: "handshake")
            case SSL_ERROR_WANT_WRITE: try wait(POLLOUT, until: deadline, doing: "handshake")
            case SSL_ERROR_SYSCALL:
                let code = errno
                throw TLSFailure("handshake (errno \(code): \(String(cString: strerror(code))))")
            default: throw TLSFailure("handshake")
            }
        }
    }

    private func wait(_ events: Int32, until deadline: Double, doing what: String) throws {
        let left = deadline - monotonicSeconds()
        guard left > 0 else { throw SystemCallFailure(call: "TLS \(what) (timed out)", code: ETIMEDOUT) }
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        _ = poll(&entry, 1, Int32(min(left, 1) * 1000) + 1)
    }

    /// Sends all of `bytes`.
    func write(_ bytes: [UInt8], timeout: Double = 10) throws {
        let deadline = monotonicSeconds() + timeout
        var offset = 0
        try bytes.withUnsafeBytes { buffer in
            while offset < buffer.count {
                ERR_clear_error()
                let result = SSL_write(ssl, buffer.baseAddress! + offset, Int32(buffer.count - offset))
                if result > 0 {
                    offset += Int(result)
                    continue
                }
                switch SSL_get_error(ssl, result) {
                case SSL_ERROR_WANT_READ: try wait(POLLIN, until: deadline, doing: "write")
                case SSL_ERROR_WANT_WRITE: try wait(POLLOUT, until: deadline, doing: "write")
                default: throw TLSFailure("SSL_write (errno \(errno))")
                }
            }
        }
    }

    /// One read: bytes, or how the stream ended (nil bytes).
    private func readOnce(into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: TLSEnd?, wants: Int32?) {
        ERR_clear_error()
        let result = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if result > 0 { return (Int(result), nil, nil) }
        let code = errno
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return (0, nil, POLLIN)
        case SSL_ERROR_WANT_WRITE: return (0, nil, POLLOUT)
        case SSL_ERROR_ZERO_RETURN: return (0, .closeNotify, nil)
        case SSL_ERROR_SYSCALL:
            if code == ECONNRESET { return (0, .reset, nil) }
            let reasons = TLSFailure.drainErrors()
            return (0, result == 0 && code == 0 ? .eofWithoutCloseNotify : .failed("errno \(code) \(reasons)"), nil)
        default:
            let reasons = TLSFailure.drainErrors()
            if reasons.contains("unexpected eof while reading") { return (0, .eofWithoutCloseNotify, nil) }
            if code == ECONNRESET { return (0, .reset, nil) }
            return (0, .failed(reasons), nil)
        }
    }

    /// Reads until `count` bytes came, or the stream ended first (then throws, naming how).
    func readExactly(_ count: Int, timeout: Double = 10) throws -> [UInt8] {
        let deadline = monotonicSeconds() + timeout
        var result = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let (got, end, wants) = result.withUnsafeMutableBytes {
                readOnce(into: UnsafeMutableRawBufferPointer(rebasing: $0[offset...]))
            }
            offset += got
            if let end { throw SystemCallFailure(call: "TLS read after \(offset) of \(count) bytes (\(end))", code: EIO) }
            if let wants { try wait(wants, until: deadline, doing: "read") }
        }
        return result
    }

    /// Reads until the stream ends; returns the bytes and how it ended (`.failed` on timeout).
    func readToEnd(timeout: Double = 10, limit: Int = 64 << 20) -> (bytes: [UInt8], end: TLSEnd) {
        let deadline = monotonicSeconds() + timeout
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= limit {
            let (got, end, wants) = chunk.withUnsafeMutableBytes { readOnce(into: $0) }
            bytes += chunk[0..<got]
            if let end { return (bytes, end) }
            if let wants {
                do { try wait(wants, until: deadline, doing: "read") } catch { return (bytes, .failed("\(error)")) }
            }
        }
        return (bytes, .failed("more than \(limit) bytes"))
    }

    /// Sends close_notify (once): TLS's "I will write no more"; reading goes on.
    func sendCloseNotify() {
        guard !sentCloseNotify else { return }
        sentCloseNotify = true
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        // close_notify is a few bytes: it went into the empty socket buffer at once.
    }

    /// close_notify, then TCP SHUT_WR: the client "shuts down writing" as a whole.
    func shutdownWrite() {
        sendCloseNotify()
        Sock.shutdownWrite(fd)
    }

    /// Closes the socket (a FIN, without close_notify unless one was sent).
    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    /// Closes the socket with an RST (SO_LINGER 0).
    func reset() {
        Sock.resetOnClose(fd)
        close()
    }

    /// Sends `count` bytes of `pattern` while reading everything the peer sends, both at once
    /// on this thread, until the peer's stream ends; after the last byte is sent it calls
    /// `afterSending` (e.g. `shutdownWrite`). `progress` sees the totals after each round and
    /// stops the transfer early by returning false.
    func duplex(sending pattern: Pattern, count: Int, timeout: Double = 60,
                afterSending: ((TLSStream) -> Void)? = nil,
                progress: ((_ sent: Int, _ received: Int) -> Bool)? = nil) -> (sent: StreamDigest, received: TLSReception, sendError: String?) {
        let deadline = monotonicSeconds() + timeout
        let sendHasher = SHA256Hasher()
        let receiveHasher = SHA256Hasher()
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: Pattern.blockSize, alignment: 8)
        defer { block.deallocate() }
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
        defer { readBuffer.deallocate() }
        var sent = 0
        var filled = -1
        var sendDone = count == 0
        var sendError: String?
        var end: TLSEnd?
        var stopped = false
        if sendDone { afterSending?(self) }
        // Until both directions are done: the peer's close_notify ends only its direction
        // (a half-close), so sending goes on; an error or a reset ends both.
        while end == nil || (end == .closeNotify && !sendDone) {
            var waitFor: Int32 = 0
            var progressed = false
            // Read everything already readable.
            while end == nil {
                let (got, ended, wants) = readOnce(into: readBuffer)
                if got > 0 {
                    receiveHasher.update(UnsafeRawBufferPointer(rebasing: readBuffer[0..<got]))
                    progressed = true
                    continue
                }
                end = ended
                if let wants { waitFor |= wants }
                break
            }
            // Write until the socket pushes back.
            while !sendDone && (end == nil || end == .closeNotify) {
                let index = sent / Pattern.blockSize
                if index != filled {
                    pattern.fill(block: index, into: block)
                    filled = index
                }
                let within = sent % Pattern.blockSize
                let length = min(Pattern.blockSize - within, count - sent)
                ERR_clear_error()
                let result = SSL_write(ssl, block.baseAddress! + within, Int32(length))
                if result > 0 {
                    sendHasher.update(UnsafeRawBufferPointer(rebasing: block[within..<(within + Int(result))]))
                    sent += Int(result)
                    progressed = true
                    if sent == count {
                        sendDone = true
                        afterSending?(self)
                    }
                    if let progress, !progress(sent, receiveHasher.count) {
                        stopped = true
                        break
                    }
                    continue
                }
                let code = errno
                switch SSL_get_error(ssl, result) {
                case SSL_ERROR_WANT_READ: waitFor |= POLLIN
                case SSL_ERROR_WANT_WRITE: waitFor |= POLLOUT
                default:
                    sendError = "SSL_write after \(sent) bytes: errno \(code) \(TLSFailure.drainErrors())"
                    sendDone = true
                }
                break
            }
            if stopped { break }
            if let progress, !progress(sent, receiveHasher.count) { break }
            if end != nil && (end != .closeNotify || sendDone) { break }
            if monotonicSeconds() > deadline {
                end = .failed("timed out after \(timeout) s: \(sent) bytes sent, \(receiveHasher.count) received")
                break
            }
            if !progressed {
                if end != nil { waitFor &= ~POLLIN }  // nothing more to read
                var entry = pollfd(fd: fd, events: Int16(waitFor == 0 ? POLLOUT : waitFor), revents: 0)
                _ = poll(&entry, 1, 100)
            }
        }
        return (sendHasher.finish(), TLSReception(digest: receiveHasher.finish(), end: end ?? .failed("stopped")), sendError)
    }
}

/// A one-connection TLS upstream: accepts one connection, completes the server handshake with
/// `context`, and runs `script` on the stream in a worker (like `ScriptedUpstream`).
struct TLSUpstream {
    let listener: Int32
    let port: UInt16
    let context: TLSContext

    init(context: TLSContext) throws {
        self.context = context
        (listener, port) = try Sock.listen()
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Accepts one connection, handshakes with `context` (default: the upstream's) and runs
    /// `script`; the worker throws if the handshake fails.
    func serve<T>(acceptTimeout: Double = 10, context: TLSContext? = nil,
                  _ script: @escaping @Sendable (TLSStream) throws -> T) -> Worker<T> {
        let listener = listener
        let context = context ?? self.context
        return Worker("TLS upstream") {
            let fd = try Sock.accept(listener, timeout: acceptTimeout)
            let stream = try TLSStream(fd: fd, context: context, serverName: nil, isServer: true)
            defer { stream.close() }
            try stream.handshake(timeout: 10)
            return try script(stream)
        }
    }

    func close() { Sock.close(listener) }
}
