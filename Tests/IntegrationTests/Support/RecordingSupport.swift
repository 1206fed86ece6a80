import Foundation
import Glibc
import XCTest

// What the Recording*Tests share: ports of their own (22600–22799), a temp folder per test,
// real peers (redis-server, a Python HTTP upstream, a byte sink), a Python client that does
// what a user's does (redis-py, http.client), and readers for what `--record DIR` leaves:
// events.jsonl checked line by line, the capture through tshark, the files as raw bytes.

/// The recording tests' ports: 22600–22799, handed out in turn, each checked free by binding
/// it (other suites take theirs from the kernel's ephemeral range, so none collide).
enum RecordingPorts {
    private static let next = Locked<UInt16>(22600)

    static func take() throws -> UInt16 {
        for _ in 0..<200 {
            let port = next.update { value -> UInt16 in
                defer { value = value >= 22799 ? 22600 : value + 1 }
                return value
            }
            if let (fd, _) = try? Sock.listen(port: port) {
                Sock.close(fd)
                return port
            }
        }
        throw SystemCallFailure(call: "bind: no free port in 22600–22799", code: EADDRINUSE)
    }
}

/// One line of events.jsonl, decoded.
struct RecordedEvent {
    let fields: [String: Any]
    var kind: String { fields["kind"] as? String ?? "" }
    var time: Double { (fields["time"] as? Double) ?? (fields["time"] as? Int).map(Double.init) ?? -1 }
    var proxy: String? { fields["proxy"] as? String }
    var link: Int? { fields["link"] as? Int }
    func string(_ key: String) -> String? { fields[key] as? String }
    /// `wall` as seconds since 1970.
    var wall: Double? { (fields["wall"] as? String).flatMap(RecordedEvent.parseWall) }

    /// RFC 3339 UTC with optional fractional seconds: `2026-12-01T01:07:38.516980Z`.
    static func parseWall(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }
}

/// One decoded tshark row: `-T fields -E separator=/t` with the fields asked for.
typealias TsharkRow = [String]

/// Base of the Recording*Tests: a temp folder (removed when the test passed), tmpfs mounts
/// (always unmounted), and the children (stopped by PID in IntegrationCase.tearDown).
class RecordingCase: IntegrationCase {
    private(set) var folder = ""
    private var mounts: [String] = []
    private var sinks: [ByteSink] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        var template = Array((NSTemporaryDirectory() + "faultline-rec-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemCallFailure(call: "mkdtemp", code: errno) }
        folder = String(cString: made)
        try Self.clientScript.write(toFile: "\(folder)/rec_client.py", atomically: true, encoding: .utf8)
        try Self.upstreamScript.write(toFile: "\(folder)/rec_upstream.py", atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        let failed = (testRun?.totalFailureCount ?? 1) > 0
        super.tearDown()  // the children first: nothing writes into a mount being unmounted
        sinks.forEach { $0.stop() }
        for mount in mounts.reversed() where umount2(mount, 0) != 0 {
            umount2(mount, 2 /* MNT_DETACH: lazily, once its last file is closed */)
        }
        if failed { print("kept \(folder)") } else { try? FileManager.default.removeItem(atPath: folder) }
    }

    // MARK: Tools

    /// A scenario with one proxy `api` (its upstream a port nothing listens on) and one phase
    /// `only` lasting `duration`: for what a recording writes whatever the traffic.
    func idleScenario(_ name: String, for duration: String) throws -> (path: String, port: UInt16) {
        let port = try RecordingPorts.take()
        let path = try writeScenario(name, """
            name: \(name)
            proxies:
              api:
                listen: 127.0.0.1:\(port)
                upstream: 127.0.0.1:\(try RecordingPorts.take())
            timeline:
              - phase: only
                for: \(duration)
            """)
        return (path, port)
    }

    func tool(_ name: String, package: String) throws -> String { try TLSTools.require(name, package: package) }

    func python() throws -> String { try TLSTools.python() }

    /// Skips unless redis-py is importable.
    func requireRedisPy() throws {
        let imports = try runCommand(try python(), ["-c", "import redis"], timeout: 30)
        guard imports.0 == .exited(0) else {
            throw XCTSkip("python3 lacks redis (pip install -r Tests/clients/requirements.txt): \(imports.stderr)")
        }
    }

    /// `python3 rec_client.py ARGS` as the command line of a `run -- CMD`.
    func clientCommand(_ arguments: [String]) throws -> [String] {
        [try python(), "\(folder)/rec_client.py"] + arguments
    }

    /// Runs rec_client.py to its end; its JSON lines.
    func client(_ arguments: [String], timeout: Double = 30, file: StaticString = #filePath,
                line: UInt = #line) throws -> [[String: Any]] {
        let (ended, stdout, stderr) = try runCommand(try python(), ["\(folder)/rec_client.py"] + arguments, timeout: timeout)
        XCTAssertEqual(ended, .exited(0), "rec_client.py \(arguments): \(stderr)\n\(stdout)", file: file, line: line)
        return Self.jsonLines(stdout)
    }

    static func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    // MARK: Peers

    /// redis-server on a port of ours (with `--requirepass` when `password`), ready once it
    /// answers; `users` are ACL users made with their passwords.
    func startRedis(password: String? = nil, users: [(name: String, password: String)] = []) throws -> UInt16 {
        let server = try tool("redis-server", package: "redis-server")
        let port = try RecordingPorts.take()
        let process = try ChildProcess.spawn(server, [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
        ] + (password.map { ["--requirepass", $0] } ?? []))
        let ready = waitUntil(timeout: 10) {
            guard let raw = try? RawRedis(port: port, timeout: 1) else { return false }
            defer { raw.close() }
            if let password, (try? raw.call("AUTH", password)) != "+OK\r\n" { return false }
            return (try? raw.call("PING")) == "+PONG\r\n"
        }
        guard ready else { throw RedisStartFailure(port: port, output: process.stdoutText + process.stderrText) }
        if !users.isEmpty {
            let raw = try RawRedis(port: port)
            defer { raw.close() }
            if let password { XCTAssertEqual(try raw.call("AUTH", password), "+OK\r\n") }
            for user in users {
                XCTAssertEqual(try raw.call("ACL", "SETUSER", user.name, "on", ">\(user.password)", "~*", "+@all"), "+OK\r\n")
            }
        }
        return port
    }

    /// rec_upstream.py: HTTP/1.1 on a port of ours (HTTPS with `tls`), answering every GET and
    /// POST with 200, a small JSON body and `Set-Cookie: sid=COOKIE`.
    func startHTTPUpstream(setCookie: String = "upstream-cookie", tls: CertificateBundleFiles? = nil) throws -> UInt16 {
        let port = try RecordingPorts.take()
        var arguments = ["\(folder)/rec_upstream.py", "--port", "\(port)", "--cookie", setCookie]
        if let tls { arguments += ["--cert", tls.cert, "--key", tls.key] }
        let process = try ChildProcess.spawn(try python(), arguments)
        guard waitUntil(timeout: 15, { process.stdoutText.contains("listening") || !process.isRunning }),
              process.isRunning else {
            throw UpstreamStartFailure(kind: .python, output: process.stdoutText + process.stderrText)
        }
        return port
    }

    /// A TCP sink on a port of ours: reads and counts everything sent to it.
    func startSink() throws -> ByteSink {
        let sink = try ByteSink(port: try RecordingPorts.take())
        sinks.append(sink)
        return sink
    }

    // MARK: faultline

    /// `faultline ARGS` run in the test's folder (a TLS proxy's CA goes to ./.faultline/ca there).
    func spawn(_ arguments: [String]) throws -> ChildProcess {
        try spawnFaultline(arguments, in: folder)
    }

    /// `faultline proxy --listen 127.0.0.1:PORT --upstream UPSTREAM ARGS`, once it listens.
    func startProxy(upstream: UInt16, _ arguments: [String]) throws -> (process: ChildProcess, port: UInt16) {
        let port = try RecordingPorts.take()
        let process = try spawn(["proxy", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:\(upstream)"] + arguments)
        try waitListening(process, port: port)
        return (process, port)
    }

    /// Waits (≤ 15 s) until `process` logs that it listens on `port`, failing when it ended
    /// first. (The log, not a probe connection: a probe would be a link in the recording.)
    func waitListening(_ process: ChildProcess, port: UInt16) throws {
        let up = waitUntil(timeout: 15) { process.stderrText.contains("listening on 127.0.0.1:\(port)") || !process.isRunning }
        guard up, process.isRunning else { throw ProxyStartFailure(stderr: process.stderrText) }
    }

    /// SIGTERM and the exit (≤ 10 s).
    @discardableResult
    func terminate(_ process: ChildProcess) -> Termination? {
        process.signal(SIGTERM)
        return process.waitForExit(timeout: 10) ?? process.stop(grace: 1)
    }

    /// Writes `yaml` as NAME.yaml in the folder; its path.
    func writeScenario(_ name: String, _ yaml: String) throws -> String {
        let path = "\(folder)/\(name).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `DIR` of a recording in the test's folder.
    func recordingDirectory(_ name: String) -> String { "\(folder)/\(name)" }

    /// Whether anything listens on `port` now.
    func listens(_ port: UInt16) -> Bool {
        guard let fd = try? Sock.connect(port: port, timeout: 1) else { return false }
        Sock.close(fd)
        return true
    }

    // MARK: What a recording holds

    /// events.jsonl checked as a reader of the file would: every line a JSON object with
    /// `"v": 1`, a `time` that never goes back and a `wall` in RFC 3339; the events.
    func events(in directory: String, file: StaticString = #filePath, line: UInt = #line) throws -> [RecordedEvent] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: "\(directory)/events.jsonl"),
                                 "no \(directory)/events.jsonl", file: file, line: line)
        let text = String(decoding: data, as: UTF8.self)
        if !text.isEmpty {
            XCTAssertTrue(text.hasSuffix("\n"), "events.jsonl ends in the middle of a line: …\(text.suffix(200))",
                          file: file, line: line)
        }
        var events: [RecordedEvent] = []
        var lastTime = -Double.infinity
        for (number, lineText) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !lineText.isEmpty {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(lineText.utf8))) as? [String: Any] else {
                XCTFail("events.jsonl line \(number + 1) is not a JSON object: \(lineText)", file: file, line: line)
                continue
            }
            let event = RecordedEvent(fields: object)
            XCTAssertEqual(object["v"] as? Int, 1, "line \(number + 1): \(lineText)", file: file, line: line)
            XCTAssertFalse(event.kind.isEmpty, "line \(number + 1) has no kind: \(lineText)", file: file, line: line)
            XCTAssertGreaterThanOrEqual(event.time, 0, "line \(number + 1): \(lineText)", file: file, line: line)
            XCTAssertGreaterThanOrEqual(event.time, lastTime, "time went back at line \(number + 1): \(lineText)",
                                        file: file, line: line)
            XCTAssertNotNil(event.wall, "line \(number + 1): wall is not RFC 3339: \(lineText)", file: file, line: line)
            XCTAssertTrue((object["wall"] as? String)?.hasSuffix("Z") ?? false, "line \(number + 1): wall is not UTC",
                          file: file, line: line)
            lastTime = max(lastTime, event.time)
            events.append(event)
        }
        return events
    }

    /// Every regular file of `directory` (one level: what --record writes), by name, as bytes.
    func files(in directory: String) throws -> [(name: String, bytes: Data)] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted().compactMap { name in
            var isFolder: ObjCBool = false
            let path = "\(directory)/\(name)"
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { return nil }
            return (name, try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }

    /// The files of `directory` that hold `secret`'s bytes (binary-safe).
    func filesHolding(_ secret: String, in directory: String) throws -> [String] {
        let needle = Data(secret.utf8)
        return try files(in: directory).filter { $0.bytes.range(of: needle) != nil }.map(\.name)
    }

    /// `tshark -r FILE ARGS`: exit status, stdout, stderr (its "Running as user root" line left out).
    func tshark(_ capture: String, _ arguments: [String], timeout: Double = 30) throws -> (ended: Termination?, stdout: String, stderr: String) {
        let binary = try tool("tshark", package: "tshark")
        let (ended, stdout, stderr) = try runCommand(binary, ["-r", capture] + arguments, timeout: timeout)
        let quiet = stderr.split(separator: "\n").filter { !$0.hasPrefix("Running as user") }.joined(separator: "\n")
        return (ended, stdout, quiet)
    }

    /// `tshark -r FILE ARGS -T fields -e F…`: one row per packet shown, its fields in order.
    func tsharkFields(_ capture: String, _ arguments: [String], fields: [String],
                      file: StaticString = #filePath, line: UInt = #line) throws -> [TsharkRow] {
        let (ended, stdout, stderr) = try tshark(capture, arguments + ["-T", "fields", "-E", "separator=/t"]
                                                 + fields.flatMap { ["-e", $0] })
        XCTAssertEqual(ended, .exited(0), "tshark \(arguments): \(stderr)", file: file, line: line)
        XCTAssertEqual(stderr, "", "tshark \(arguments)", file: file, line: line)
        return stdout.split(separator: "\n").map { row in
            var columns = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            while columns.count < fields.count { columns.append("") }
            return columns
        }
    }

    /// tshark prints a bytes field as hex, several values joined by commas: as text.
    static func hexText(_ field: String) -> [String] {
        field.split(separator: ",").map { hex in
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
                bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0x3F)
                index = next
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    // MARK: Mounts

    /// A tmpfs of `options` (`size=2m`, `ro,size=1m`) mounted on a new folder in the test's
    /// folder, unmounted by tearDown; skips when this process may not mount.
    func mountTmpfs(_ name: String, options: String) throws -> String {
        let path = "\(folder)/\(name)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let status = options.withCString { mount("tmpfs", path, "tmpfs", 0, $0) }
        guard status == 0 else {
            let code = errno
            if code == EPERM || code == EACCES {
                throw XCTSkip("cannot mount a tmpfs here (\(String(cString: strerror(code)))): needs root or CAP_SYS_ADMIN")
            }
            throw SystemCallFailure(call: "mount tmpfs \(options) on \(path)", code: code)
        }
        mounts.append(path)
        return path
    }
}

/// A listener that reads and counts whatever its clients send, one thread per connection.
final class ByteSink: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let received = Locked<Int>(0)
    private let connections = Locked<Int>(0)
    private let stopped = Locked(false)

    init(port: UInt16) throws {
        (listener, self.port) = try Sock.listen(port: port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "byte sink"
        thread.start()
    }

    /// Bytes received so far over every connection.
    var total: Int { received.current }
    /// Connections accepted so far.
    var accepted: Int { connections.current }

    func stop() {
        let wasStopped = stopped.update { value -> Bool in
            let was = value
            value = true
            return was
        }
        guard !wasStopped else { return }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        Sock.close(listener)
    }

    private func acceptLoop() {
        while !stopped.current {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 200) >= 0 else { return }
            guard entry.revents & Int16(POLLIN) != 0, !stopped.current else { continue }
            let fd = acceptCloseOnExec(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            guard fd >= 0 else { continue }
            connections.update { $0 += 1 }
            let reader = Thread { [self] in
                Sock.setTimeouts(fd, seconds: 60)
                var chunk = [UInt8](repeating: 0, count: 256 * 1024)
                while true {
                    let outcome = chunk.withUnsafeMutableBytes { Sock.receive(fd, into: $0) }
                    guard case let .bytes(count) = outcome else { break }
                    received.update { $0 += count }
                }
                Sock.close(fd)
            }
            reader.start()
        }
    }
}

extension RecordingCase {
    /// Connects to `port`, sends `bytes` bytes in 64 KB writes, half-closes and waits for the
    /// peer's end (≤ 30 s); the bytes sent.
    @discardableResult
    static func send(_ bytes: Int, to port: UInt16) throws -> Int {
        let fd = try Sock.connect(port: port, timeout: 30)
        defer { Sock.close(fd) }
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var sent = 0
        while sent < bytes {
            let size = min(chunk.count, bytes - sent)
            try chunk.withUnsafeBytes { try Sock.sendAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
            sent += size
        }
        Sock.shutdownWrite(fd)
        _ = Sock.readToEnd(fd)
        return sent
    }

    /// rec_client.py: what the Recording*Tests' clients do, one mode per kind of client; JSON lines out.
    static let clientScript = #"""
    #!/usr/bin/env python3
    """Clients for RecordingTests (written into the test's folder by RecordingSupport.swift)."""
    import argparse, http.client, json, socket, ssl, sys, time


    def out(**fields):
        print(json.dumps(fields), flush=True)


    def redis_client(args, **extra):
        import redis
        kwargs = dict(host="127.0.0.1", port=args.port, socket_timeout=5, socket_connect_timeout=5)
        if args.password is not None:
            kwargs["password"] = args.password
        if args.user is not None:
            kwargs["username"] = args.user
        if args.resp:
            kwargs["protocol"] = args.resp
        if args.tls:
            kwargs.update(ssl=True, ssl_ca_certs=args.ca, ssl_check_hostname=True)
        kwargs.update(extra)
        return redis.Redis(**kwargs)


    def loop(args):
        """SET/GET on one connection until killed (or --duration, or an error)."""
        r = redis_client(args)
        deadline = time.monotonic() + args.duration
        i = 0
        while time.monotonic() < deadline:
            r.set("loop:%d" % (i % 50), "value-%d" % i)
            assert r.get("loop:%d" % (i % 50)) == ("value-%d" % i).encode()
            i += 1
            if i % 50 == 0:
                out(commands=2 * i)
            time.sleep(0.005)


    def ops(args):
        """--count SET k v / GET k on one connection; every GET must see its SET."""
        r = redis_client(args)
        for i in range(args.count):
            key, value = "%s%d" % (args.key, i), "%s%d" % (args.value, i)
            assert r.set(key, value) is True
            got = r.get(key)
            assert got == value.encode(), got
        out(ok=args.count)


    def pipeline(args):
        """--count SETs in one pipeline, 3 times a second apart: many events fast."""
        r = redis_client(args)
        for _ in range(3):
            p = r.pipeline(transaction=False)
            for i in range(args.count):
                p.set("bulk:%d" % i, "v")
            assert all(p.execute())
            time.sleep(1.1)
        out(ok=3 * args.count, ping=r.ping())


    def gets(args):
        """--count GETs one after another on one connection: each outcome, in order."""
        import redis
        r = redis_client(args)
        r.set("replay", "x")
        outcomes = []
        for _ in range(args.count):
            try:
                r.get("replay")
                outcomes.append("ok")
            except redis.RedisError as error:
                outcomes.append("error:" + type(error).__name__)
        out(outcomes=outcomes)


    def connections(args):
        """--count connections one after another, each PING then a read: how each ended."""
        outcomes = []
        for _ in range(args.count):
            try:
                s = socket.create_connection(("127.0.0.1", args.port), timeout=5)
            except ConnectionResetError:
                outcomes.append("reset")
                continue
            try:
                s.sendall(b"PING\r\n")
                data = s.recv(64)
                outcomes.append("pong" if data.startswith(b"+PONG") else ("eof" if not data else "other"))
            except ConnectionResetError:
                outcomes.append("reset")
            except OSError as error:
                outcomes.append(type(error).__name__)
            finally:
                s.close()
        out(outcomes=outcomes)


    def hold(args):
        """One connection: PING, then read until the proxy ends it (a fault): how it ended."""
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        s.sendall(b"PING\r\n")
        seen = b""
        try:
            while True:
                data = s.recv(4096)
                if not data:
                    out(end="eof", seen=seen.decode())
                    return
                seen += data
        except ConnectionResetError:
            out(end="reset", seen=seen.decode())


    def http_requests(args):
        """GET each --path over one keep-alive connection, with the secret headers: statuses."""
        if args.tls:
            context = ssl.create_default_context(cafile=args.ca)
            conn = http.client.HTTPSConnection("localhost", args.port, context=context, timeout=10)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        headers = {}
        if args.token:
            headers["Authorization"] = "Bearer " + args.token
        if args.cookie:
            headers["Cookie"] = "sid=" + args.cookie
        if args.api_key:
            headers["X-Api-Key"] = args.api_key
        statuses, cookies = [], []
        for path in args.path:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            cookies.append(response.getheader("Set-Cookie"))
        conn.close()
        out(statuses=statuses, cookies=cookies)


    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["loop", "ops", "pipeline", "gets", "connections", "hold", "http"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--password")
    parser.add_argument("--user")
    parser.add_argument("--resp", type=int, choices=[2, 3])
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--key", default="reckey")
    parser.add_argument("--value", default="recvalue")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--token")
    parser.add_argument("--cookie")
    parser.add_argument("--api-key")
    args = parser.parse_args()
    {"loop": loop, "ops": ops, "pipeline": pipeline, "gets": gets, "connections": connections, "hold": hold,
     "http": http_requests}[args.mode](args)
    """#

    /// rec_upstream.py: a small HTTP/1.1 upstream (stdlib) that sets a cookie on every answer.
    static let upstreamScript = #"""
    #!/usr/bin/env python3
    import argparse, json, ssl, sys
    from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cookie", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()


    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = json.dumps({"path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", "sid=%s; Path=/; HttpOnly" % args.cookie)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass


    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening", flush=True)
    server.serve_forever()
    """#
}
