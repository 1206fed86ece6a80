import Foundation
import Glibc
import XCTest

/// capture.pcapng as a user reads it with tshark: both legs of every link (interfaces `NAME
/// client` and `NAME upstream`), Redis and HTTP decoded, plaintext after TLS termination,
/// clean TCP (checksums, no missing segments), RST and FIN as they happened; and secrets
/// overwritten in every file of the recording unless --no-redact.
///
/// tshark 4.0 decodes RESP only on 6379 (`tshark -G decodes`: `tcp.port 6379 resp`): any other
/// port needs `-d tcp.port==PORT,resp`, one per leg. HTTP is found on any port by its
/// heuristic dissector: `-Y http` needs no `-d`.
final class RecordingCaptureTests: RecordingCase {
    // MARK: Redis

    /// One Redis command or reply as tshark shows it: the leg, who sent it, its strings.
    private struct RESPRow: CustomStringConvertible {
        let leg: String
        let fromClient: Bool
        let values: [String]
        var description: String { "\(leg) \(fromClient ? "→" : "←") \(values)" }
    }

    /// The RESP messages of a capture, decoded with `-d` for both ports.
    private func respRows(_ capture: String, listen: UInt16, upstream: UInt16,
                          file: StaticString = #filePath, line: UInt = #line) throws -> [RESPRow] {
        let rows = try tsharkFields(capture, ["-d", "tcp.port==\(listen),resp", "-d", "tcp.port==\(upstream),resp", "-Y", "resp"],
                                    fields: ["frame.interface_name", "tcp.dstport", "resp.bulk_string.value", "resp.string"],
                                    file: file, line: line)
        return rows.map { row in
            let toServer = row[1] == "\(listen)" || row[1] == "\(upstream)"
            let values = Self.hexText(row[2]) + row[3].split(separator: ",").map(String.init)
            return RESPRow(leg: row[0], fromClient: toServer, values: values)
        }
    }

    /// Asserts each leg of proxy `name` shows the client's SET/GET of ops --count 2 and their replies.
    private func assertRedisOnBothLegs(_ rows: [RESPRow], name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(rows.map(\.leg)), ["\(name) client", "\(name) upstream"], "\(rows)", file: file, line: line)
        for leg in ["\(name) client", "\(name) upstream"] {
            let commands = rows.filter { $0.leg == leg && $0.fromClient }.map(\.values)
            let replies = rows.filter { $0.leg == leg && !$0.fromClient }.map(\.values)
            for expected in [["SET", "reckey0", "recvalue0"], ["GET", "reckey0"], ["SET", "reckey1", "recvalue1"], ["GET", "reckey1"]] {
                XCTAssertTrue(commands.contains { $0.map { $0.uppercased() == expected[0] ? expected[0] : $0 } == expected },
                              "\(leg): no \(expected) in \(commands)", file: file, line: line)
            }
            XCTAssertTrue(replies.contains(["OK"]), "\(leg): no +OK in \(replies)", file: file, line: line)
            XCTAssertTrue(replies.contains(["recvalue0"]) && replies.contains(["recvalue1"]), "\(leg): \(replies)",
                          file: file, line: line)
        }
    }

    /// `faultline run --record` around a Redis proxy named `cache`: tshark shows every SET/GET
    /// and its reply on both legs, and finds nothing wrong with the TCP.
    func testPlainRedisLinkDecodesOnBothLegsAndIsCleanTCP() throws {
        try requireRedisPy()
        let redis = try startRedis()
        let port = try RecordingPorts.take()
        let scenario = try writeScenario("redis", """
            name: redis-capture
            proxies:
              cache:
                listen: 127.0.0.1:\(port)
                upstream: 127.0.0.1:\(redis)
                protocol: redis
            timeline:
              - phase: only
                for: 300ms
            """)
        let directory = recordingDirectory("redis")
        let run = try spawn(["run", scenario, "--record", directory, "--"]
                            + (try clientCommand(["ops", "--port", "\(port)", "--count", "2", "--resp", "2"])))
        XCTAssertEqual(run.waitForExit(timeout: 30) ?? run.stop(grace: 1), .exited(0), run.stdoutText + run.stderrText)
        let capture = "\(directory)/capture.pcapng"
        assertRedisOnBothLegs(try respRows(capture, listen: port, upstream: redis), name: "cache")
        try assertCleanTCP(capture)
        // One SYN per leg of the one link, each answered.
        let syns = try tsharkFields(capture, ["-Y", "tcp.flags.syn==1 && tcp.flags.ack==0"], fields: ["frame.interface_name"])
        XCTAssertEqual(syns.map { $0[0] }.sorted(), ["cache client", "cache upstream"])
    }

    /// Checksums right, no segment missing or acknowledged unseen, nothing malformed: what
    /// `tshark -o tcp.check_checksum:TRUE -z expert` finds in a clean run.
    private func assertCleanTCP(_ capture: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expert = try tshark(capture, ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-z", "expert", "-q"])
        XCTAssertEqual(expert.ended, .exited(0), expert.stderr, file: file, line: line)
        for problem in ["checksum", "previous segment not captured", "ACKed segment that wasn't captured",
                        "ACKed unseen segment", "Malformed", "Retransmission", "Out-Of-Order", "Errors ("] {
            XCTAssertFalse(expert.stdout.localizedCaseInsensitiveContains(problem), "'\(problem)' in:\n\(expert.stdout)",
                           file: file, line: line)
        }
        let bad = try tsharkFields(capture, ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                                             "-Y", "tcp.checksum.status != 1 || ip.checksum.status != 1"],
                                   fields: ["frame.number"], file: file, line: line)
        XCTAssertEqual(bad.count, 0, "packets whose checksums are not good: \(bad.prefix(5))", file: file, line: line)
    }

    /// A TLS-terminated Redis proxy (redis-py verifying faultline's CA): the capture holds the
    /// plaintext commands on both legs.
    func testTLSTerminatedRedisLinkIsCapturedAsPlaintext() throws {
        try requireRedisPy()
        let redis = try startRedis()
        let directory = recordingDirectory("redis-tls")
        let (proxy, port) = try startProxy(upstream: redis, ["--protocol", "redis", "--tls-profile", "valid", "--tls-host",
                                                             "localhost", "--tls-host", "127.0.0.1", "--record", directory])
        _ = try client(["ops", "--port", "\(port)", "--count", "2", "--resp", "2", "--tls",
                        "--ca", "\(folder)/.faultline/ca/root.pem"])
        XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
        let capture = "\(directory)/capture.pcapng"
        assertRedisOnBothLegs(try respRows(capture, listen: port, upstream: redis), name: "proxy")
        try assertCleanTCP(capture)
        XCTAssertTrue(try events(in: directory).contains { $0.kind == "tlsHandshakeCompleted" })
    }

    // MARK: HTTP

    /// Requests and statuses per leg: (interface, "GET /path") and (interface, status).
    private func httpRows(_ capture: String, file: StaticString = #filePath, line: UInt = #line) throws
        -> (requests: [String: [String]], statuses: [String: [String]]) {
        let rows = try tsharkFields(capture, ["-Y", "http"],
                                    fields: ["frame.interface_name", "http.request.method", "http.request.uri", "http.response.code"],
                                    file: file, line: line)
        var requests: [String: [String]] = [:]
        var statuses: [String: [String]] = [:]
        for row in rows {
            if !row[1].isEmpty { requests[row[0], default: []].append("\(row[1]) \(row[2])") }
            if !row[3].isEmpty { statuses[row[0], default: []].append(row[3]) }
        }
        return (requests, statuses)
    }

    /// An HTTP proxy, plain and TLS-terminated, one request answered by faultline (http.respond
    /// 404): tshark shows each request and status on the legs they crossed.
    func testHTTPRequestsAndStatusesDecodeOnTheLegsTheyCrossedPlainAndTLS() throws {
        let upstream = try startHTTPUpstream()
        for tls in [false, true] {
            let directory = recordingDirectory(tls ? "http-tls" : "http")
            let (proxy, port) = try startProxy(upstream: upstream, ["--protocol", "http", "--fault", "http.respond:status=404,path=/api/v2/*",
                                                                    "--record", directory]
                                               + (tls ? ["--tls-profile", "valid", "--tls-host", "localhost"] : []))
            let answers = try client(["http", "--port", "\(port)", "--path", "/api/v1/users", "--path", "/api/v2/users",
                                      "--path", "/api/v1/users?page=2"]
                                     + (tls ? ["--tls", "--ca", "\(folder)/.faultline/ca/root.pem"] : []))
            XCTAssertEqual(answers.first?["statuses"] as? [Int], [200, 404, 200])
            XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
            let capture = "\(directory)/capture.pcapng"
            let (requests, statuses) = try httpRows(capture)
            XCTAssertEqual(requests["proxy client"], ["GET /api/v1/users", "GET /api/v2/users", "GET /api/v1/users?page=2"], "tls \(tls)")
            XCTAssertEqual(statuses["proxy client"], ["200", "404", "200"], "tls \(tls)")
            XCTAssertEqual(requests["proxy upstream"], ["GET /api/v1/users", "GET /api/v1/users?page=2"], "tls \(tls)")
            XCTAssertEqual(statuses["proxy upstream"], ["200", "200"], "tls \(tls)")
            try assertCleanTCP(capture)
        }
    }

    // MARK: Ends of links

    /// tcp.reset_peer: an RST from faultline on each leg; tcp.cutoff (fin): FINs from
    /// faultline on each leg and no RST.
    func testResetPeerShowsRSTOnBothLegsAndCutoffShowsFINs() throws {
        let redis = try startRedis()
        for (fault, end) in [("tcp.reset_peer:after=300ms", "reset"), ("tcp.cutoff:after=300ms", "eof")] {
            let directory = recordingDirectory(end)
            let (proxy, port) = try startProxy(upstream: redis, ["--fault", fault, "--record", directory])
            let outcome = try client(["hold", "--port", "\(port)"]).first
            XCTAssertEqual(outcome?["end"] as? String, end, "\(fault): \(String(describing: outcome))")
            XCTAssertEqual(outcome?["seen"] as? String, "+PONG\r\n", fault)
            XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
            let capture = "\(directory)/capture.pcapng"
            // Faultline's side of each leg: the listening port on the client leg, the port that
            // is not Redis's on the upstream leg.
            let rows = try tsharkFields(capture, ["-Y", "tcp.flags.reset==1 || tcp.flags.fin==1"],
                                        fields: ["frame.interface_name", "tcp.srcport", "tcp.dstport", "tcp.flags.reset", "tcp.flags.fin"])
            func fromFaultline(_ row: TsharkRow) -> Bool {
                row[0] == "proxy client" ? row[1] == "\(port)" : row[2] == "\(redis)"
            }
            let isReset = { (row: TsharkRow) in row[3] == "1" || row[3] == "True" }
            let isFin = { (row: TsharkRow) in row[4] == "1" || row[4] == "True" }
            for leg in ["proxy client", "proxy upstream"] {
                let mine = rows.filter { $0[0] == leg && fromFaultline($0) }
                if end == "reset" {
                    XCTAssertEqual(mine.filter(isReset).count, 1, "\(fault) \(leg): \(rows)")
                    XCTAssertEqual(mine.filter(isFin).count, 0, "\(fault) \(leg): a FIN before the RST: \(rows)")
                } else {
                    XCTAssertEqual(mine.filter(isFin).count, 1, "\(fault) \(leg): \(rows)")
                    XCTAssertEqual(rows.filter { $0[0] == leg }.filter(isReset).count, 0, "\(fault) \(leg): \(rows)")
                }
            }
        }
    }

    // MARK: Redaction

    private static let redisPassword = "rec-default-Pw-5113"
    private static let userPassword = "rec-alice-Pw-7207"

    /// Four redis-py clients authenticating every way they do (AUTH pass, AUTH user pass,
    /// HELLO 3 AUTH default pass, HELLO 3 AUTH user pass) through a proxy recording into DIR.
    private func recordRedisLogins(_ arguments: [String], redis: UInt16, name: String) throws -> String {
        let directory = recordingDirectory(name)
        let (proxy, port) = try startProxy(upstream: redis, arguments + ["--record", directory])
        for (resp, user, password) in [("2", nil, Self.redisPassword), ("3", nil, Self.redisPassword),
                                       ("2", "alice", Self.userPassword), ("3", "alice", Self.userPassword)] {
            _ = try client(["ops", "--port", "\(port)", "--count", "1", "--resp", resp, "--password", password]
                           + (user.map { ["--user", $0] } ?? []))
        }
        XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
        return directory
    }

    /// AUTH and HELLO AUTH passwords are in no file of the recording, through a Redis proxy and
    /// through a plain TCP proxy; the AUTH is still there with its password as stars (same
    /// length); with --no-redact the capture holds them (so this test can fail).
    func testRedisPasswordsAreRedactedInEveryFileUnlessNoRedact() throws {
        try requireRedisPy()
        let redis = try startRedis(password: Self.redisPassword, users: [("alice", Self.userPassword)])
        for (label, arguments) in [("redis", ["--protocol", "redis"]), ("tcp", [])] {
            let directory = try recordRedisLogins(arguments, redis: redis, name: "auth-\(label)")
            for secret in [Self.redisPassword, Self.userPassword] {
                XCTAssertEqual(try filesHolding(secret, in: directory), [], "\(label): \(secret) is in the recording")
                let stars = "$\(secret.utf8.count)\r\n" + String(repeating: "*", count: secret.utf8.count) + "\r\n"
                XCTAssertEqual(try filesHolding(stars, in: directory), ["capture.pcapng"],
                               "\(label): the password's bulk string is not in the capture as stars")
            }
            XCTAssertEqual(try filesHolding("recvalue0", in: directory), ["capture.pcapng"], "\(label): redaction took data too")
            let hello = try respRows("\(directory)/capture.pcapng", listen: 0, upstream: redis)
                .filter { $0.fromClient && $0.values.first?.uppercased() == "HELLO" }
            XCTAssertTrue(hello.contains { $0.values.contains("alice") }, "\(label): the user name went too: \(hello)")
        }
        let kept = try recordRedisLogins(["--protocol", "redis", "--no-redact"], redis: redis, name: "auth-kept")
        for secret in [Self.redisPassword, Self.userPassword] {
            XCTAssertEqual(try filesHolding(secret, in: kept), ["capture.pcapng"], "--no-redact: \(secret)")
        }
    }

    /// Authorization, Cookie, X-Api-Key and Set-Cookie values are in no file of the recording
    /// (stars of the same length in the capture); with --no-redact the capture holds them.
    func testHTTPSecretsAreRedactedInEveryFileUnlessNoRedact() throws {
        let secrets = (token: "tok-Rec-93817", cookie: "cookie-Rec-44120", key: "key-Rec-55231", setCookie: "setcookie-Rec-61873")
        let upstream = try startHTTPUpstream(setCookie: secrets.setCookie)
        for redact in [true, false] {
            let directory = recordingDirectory(redact ? "http-redacted" : "http-kept")
            let (proxy, port) = try startProxy(upstream: upstream, ["--protocol", "http", "--record", directory]
                                               + (redact ? [] : ["--no-redact"]))
            let answers = try client(["http", "--port", "\(port)", "--path", "/a", "--path", "/b", "--token", secrets.token,
                                      "--cookie", secrets.cookie, "--api-key", secrets.key])
            // What the client got is untouched: redaction is of the recording only.
            XCTAssertEqual(answers.first?["cookies"] as? [String],
                           Array(repeating: "sid=\(secrets.setCookie); Path=/; HttpOnly", count: 2))
            XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
            for secret in [secrets.token, secrets.cookie, secrets.key, secrets.setCookie] {
                let holders = try filesHolding(secret, in: directory)
                XCTAssertEqual(holders, redact ? [] : ["capture.pcapng"], "redact \(redact): \(secret)")
                if redact {
                    XCTAssertTrue(try filesHolding(String(repeating: "*", count: secret.utf8.count), in: directory)
                                    .contains("capture.pcapng"), "no stars as long as \(secret)")
                }
            }
            XCTAssertEqual(try filesHolding("X-Api-Key: ", in: directory), ["capture.pcapng"])
        }
    }

    /// Secrets the client writes a byte at a time (every byte its own read at the proxy), in
    /// lower case, pipelined, inline, in several headers of one request: still redacted, through
    /// a Redis, an HTTP and a plain TCP proxy.
    func testSecretsSplitAcrossReadsAreRedacted() throws {
        let password = "split-Pw-30517"
        let redis = try startRedis(password: password)
        let upstream = try startHTTPUpstream(setCookie: "split-set-Cookie-8842")
        let resp = Array("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nauth\r\n$\(password.utf8.count)\r\n\(password)\r\n".utf8)
            + Array("AUTH \(password)\r\nHELLO 3 AUTH default \(password)\r\n".utf8)
        let http = Array(("GET /x HTTP/1.1\r\nHost: a\r\nauthorization: Basic split-Basic-1\r\n"
                          + "proxy-authorization: Bearer split-Bearer-2\r\nCOOKIE: theme=dark; sid=split-Sid-3\r\n"
                          + "x-api-key:split-Key-4\r\nContent-Length: 0\r\n\r\n").utf8)
        let plans: [(name: String, upstream: UInt16, arguments: [String], bytes: [UInt8], secrets: [String])] = [
            ("redis", redis, ["--protocol", "redis"], resp, [password]),
            ("redis-tcp", redis, [], resp, [password]),
            ("http", upstream, ["--protocol", "http"], http,
             ["split-Basic-1", "split-Bearer-2", "split-Sid-3", "split-Key-4", "split-set-Cookie-8842"]),
            ("http-tcp", upstream, [], http,
             ["split-Basic-1", "split-Bearer-2", "split-Sid-3", "split-Key-4", "split-set-Cookie-8842"]),
        ]
        for plan in plans {
            let directory = recordingDirectory("split-\(plan.name)")
            let (proxy, port) = try startProxy(upstream: plan.upstream, plan.arguments + ["--record", directory])
            let fd = try Sock.connect(port: port, timeout: 10)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            for byte in plan.bytes {
                try Sock.sendAll(fd, [byte])
                usleep(2_000)
            }
            usleep(300_000)
            let (answer, _) = Sock.receiveOnce(fd)
            XCTAssertFalse(answer.isEmpty, "\(plan.name): no answer")
            Sock.close(fd)
            XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
            for secret in plan.secrets {
                XCTAssertEqual(try filesHolding(secret, in: directory), [], "\(plan.name): \(secret) is in the recording")
            }
        }
    }

    /// --no-capture writes no capture.pcapng; recording.json says what was asked for.
    func testNoCaptureAndNoRedactAreWhatRecordingJSONSays() throws {
        let (scenario, port) = try idleScenario("quiet", for: "200ms")
        for (name, flags, expected) in [("nocap", ["--no-capture"], ["events.jsonl", "recording.json", "scenario.yaml"]),
                                         ("noredact", ["--no-redact"],
                                          ["capture.pcapng", "events.jsonl", "recording.json", "scenario.yaml"])] {
            let directory = recordingDirectory(name)
            let run = try spawn(["run", scenario, "--record", directory] + flags)
            XCTAssertEqual(run.waitForExit(timeout: 15) ?? run.stop(grace: 1), .exited(0), run.stderrText)
            XCTAssertEqual(try files(in: directory).map(\.name).filter { $0 != "report.html" }, expected, name)
            let info = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/recording.json")))) as? [String: Any])
            XCTAssertEqual(info["command"] as? String, "run")
            XCTAssertEqual(info["capture"] as? Bool, name != "nocap", "\(info)")
            XCTAssertEqual(info["redacted"] as? Bool, name != "noredact", "\(info)")
        }
    }
}
