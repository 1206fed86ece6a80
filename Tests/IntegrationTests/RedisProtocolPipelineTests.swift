import Foundation
import Glibc
import XCTest

/// Pipelines and big values through `--protocol redis`: every reply in its command's place when
/// faultline answers some of them, however the client's bytes were split; 16 MB values intact;
/// redis-benchmark with 16-deep pipelines on 20 connections.
final class RedisProtocolPipelineTests: RedisProtocolCase {
    func testRedisPyPipelineOfAThousandKeepsEveryReplyInPlace() throws {
        try checkRedisPyPipeline(tls: false)
    }

    func testRawPipelineSplitAtOddBoundariesKeepsEveryReplyInPlace() throws {
        try checkRawSplitPipeline(tls: false)
    }

    func testSixteenMegabyteValueIntactWithAndWithoutFaults() throws {
        try checkBigValue(tls: false)
    }

    /// probability=0.5 picks the same GETs for the same seed (a run repeats), other ones for
    /// another seed, and about half of them.
    func testProbabilityPicksTheSameCommandsForTheSameSeed() throws {
        func errors(seed: UInt64) throws -> [Int] {
            let proxy = try startProxy(["redis.error:error=LOADING,commands=GET,probability=0.5"], seed: seed)
            let connection = try authenticated(port: proxy.port)
            try connection.send(Array(repeating: resp("GET", "chance"), count: 200).flatMap { $0 })
            return try (0..<200).filter { _ in try connection.replyText().hasPrefix("-LOADING") }
        }
        let first = try errors(seed: 42)
        XCTAssertEqual(try errors(seed: 42), first)
        XCTAssertNotEqual(try errors(seed: 43), first)
        XCTAssertTrue((60...140).contains(first.count), "\(first.count) of 200 picked")
    }

    /// redis-benchmark -P 16 -c 20 -n 100000 -t set,get -a PASS: completes, every reply an
    /// answer (no error line), and the SETs reached redis-server.
    func testRedisBenchmarkPipelinedThroughTheProxy() throws {
        let benchmark = try TLSTools.require("redis-benchmark", package: "redis-tools")
        let proxy = try startProxy([])
        let started = monotonicSeconds()
        let (ended, stdout, stderr) = try runCommand(benchmark, [
            "-h", "127.0.0.1", "-p", "\(proxy.port)", "-a", Self.password, "-P", "16", "-c", "20", "-n", "100000",
            "-t", "set,get", "-q",
        ], timeout: 120)
        let seconds = monotonicSeconds() - started
        XCTAssertEqual(ended, .exited(0), "redis-benchmark: \(stderr)\n\(stdout)")
        let lines = stdout.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
        for command in ["SET", "GET"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix("\(command): ") && $0.contains("requests per second") },
                          "no \(command) result in:\n\(stdout)")
        }
        XCTAssertFalse(stdout.contains("ERR") || stderr.contains("ERR") || stdout.contains("Error"), "\(stdout)\n\(stderr)")
        // redis-benchmark 7 writes 3 random bytes (-d 3) to the one key it uses without -r.
        XCTAssertEqual(try direct("STRLEN", "key:__rand_int__"), ":3\r\n", "the SETs reached redis-server")
        XCTAssertTrue(proxy.process.isRunning)
        print("redis-benchmark -P 16 -c 20 -n 100000 through --protocol redis: \(String(format: "%.1f", seconds)) s")
    }
}

extension RedisProtocolCase {
    /// 1,000 commands in one redis-py pipeline (transaction=False): SET pipe:i, GET pipe:i
    /// alternating; `redis.error READONLY` on every 3rd GET. Each reply is in its place: True for
    /// the SETs, ReadOnlyError for GETs 3, 6, 9…, the value for the other GETs.
    func checkRedisPyPipeline(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy(["redis.error:error=READONLY,commands=GET,every=3"], tls: tls)
        let result = try pythonOne("pipeline", port: proxy.port, tls: tls, ["--count", "1000"], file: file, line: line)
        let results = try XCTUnwrap(result["results"] as? [String], file: file, line: line)
        XCTAssertEqual(results.count, 1000, file: file, line: line)
        var expected: [String] = []
        for index in 0..<1000 {
            let pair = index / 2
            if index % 2 == 0 {
                expected.append("True")
            } else if (pair + 1) % 3 == 0 {
                expected.append("!ReadOnlyError: You can't write against a read only replica.")
            } else {
                expected.append("value-\(pair)")
            }
        }
        let wrong = zip(expected, results).enumerated().filter { $0.element.0 != $0.element.1 }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) replies out of place, first: \(wrong.prefix(3))", file: file, line: line)
        XCTAssertEqual(expected.filter { $0.hasPrefix("!") }.count, 166, file: file, line: line)
    }

    /// The same kind of pipeline over a raw socket, sent in pieces of 1, 2, 3, 5, 7, 11, 13,
    /// 17, 101 and 499 bytes (TCP_NODELAY, a pause between pieces, so commands, headers and
    /// values arrive split everywhere), with inline PINGs among them: the reply bytes are
    /// exactly Redis's, with faultline's errors in their places.
    func checkRawSplitPipeline(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy(["redis.error:error=READONLY,commands=GET,every=3"], tls: tls)
        let connection = try authenticated(port: proxy.port, tls: tls, file: file, line: line)
        var request: [UInt8] = []
        var expected = ""
        var gets = 0
        for index in 0..<150 {
            let value = String(repeating: "v\(index)-", count: index % 7 + 1)
            request += resp("SET", "split:\(index)", value)
            expected += "+OK\r\n"
            request += resp("GET", "split:\(index)")
            gets += 1
            expected += gets % 3 == 0 ? "-READONLY You can't write against a read only replica.\r\n" : bulk(value)
            if index % 10 == 0 {
                request += Array("PING\r\n".utf8)
                expected += "+PONG\r\n"
            }
        }
        let pieces = [1, 2, 3, 5, 7, 11, 13, 17, 101, 499]
        var offset = 0
        var turn = 0
        while offset < request.count {
            let size = min(pieces[turn % pieces.count], request.count - offset)
            try connection.send(Array(request[offset..<offset + size]))
            offset += size
            turn += 1
            if turn % 3 == 0 { usleep(300) }
        }
        // The replies (a few KB) wait in the socket buffers while the pieces go out.
        var replies = ""
        while replies.utf8.count < expected.utf8.count {
            replies += try connection.replyText(timeout: 20)
        }
        XCTAssertEqual(replies, expected, file: file, line: line)
    }

    /// A 16 MB value (SET then GET through the proxy, read back from redis-server directly):
    /// the same sha256 everywhere, with no fault, with faults active that match other commands
    /// and keys, and with a delay on the GET of the big key itself.
    func checkBigValue(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let setups: [(String, [String])] = [
            ("no fault", []),
            ("faults on other commands and keys", ["redis.delay:delay=200ms,commands=PING",
                                                   "redis.error:error=OOM,commands=SET,keys=other:*"]),
            ("a delay on this GET", ["redis.delay:delay=300ms,commands=GET,keys=big:*"]),
        ]
        for (name, faults) in setups {
            let proxy = try startProxy(faults, tls: tls)
            let result = try pythonOne("big", port: proxy.port, tls: tls, ["--size", "\(16 << 20)"], timeout: 120, file: file, line: line)
            XCTAssertEqual(result["set"] as? Bool, true, name, file: file, line: line)
            XCTAssertEqual(result["length"] as? Int, 16 << 20, name, file: file, line: line)
            let sent = try XCTUnwrap(result["sent"] as? String, file: file, line: line)
            XCTAssertEqual(result["got"] as? String, sent, "\(name): GET through the proxy", file: file, line: line)
            XCTAssertEqual(result["direct"] as? String, sent, "\(name): what redis-server holds", file: file, line: line)
            if name == "a delay on this GET" {
                XCTAssertGreaterThanOrEqual(result["seconds"] as? Double ?? 0, 0.3, "the GET's reply was held", file: file, line: line)
            }
        }
    }
}

/// A deep pipeline against a client that does not read at first: 200,000 GETs, every 2nd
/// answered LOADING by faultline, sent while nothing is read for a second (faultline stops
/// reading the client once its answers pile up, the client's sends block), then read whole:
/// every reply in its place.
final class RedisProtocolDeepPipelineTests: RedisProtocolCase {
    /// redis-py's pipeline writes every command before it reads a reply; Redis keeps reading
    /// (its output buffer grows). The proxy stalled such a client past 65,536 waiting commands
    /// (81,000 of 100,000 answered, then nothing): 300,000 GETs of a 100-byte value, sent whole
    /// before any read, now all get their replies, with and without a fault to consult.
    func testAWholePipelineSentBeforeAnyReadIsAnswered() throws {
        for faults in [[], ["redis.error:error=LOADING,commands=FLUSHALL"]] {
            let proxy = try startProxy(faults)
            let fd = try Sock.connect(port: proxy.port, timeout: 60)
            defer { Sock.close(fd) }
            try Sock.sendAll(fd, resp("AUTH", Self.password) + resp("SET", "deep:value", String(repeating: "v", count: 100)))
            XCTAssertEqual(try Sock.readExactly(fd, 10), Array("+OK\r\n+OK\r\n".utf8))
            let count = 300_000
            let reply = Array("$100\r\n\(String(repeating: "v", count: 100))\r\n".utf8)
            let started = monotonicSeconds()
            try Sock.sendAll(fd, Array(repeating: resp("GET", "deep:value"), count: count).flatMap { $0 })
            XCTAssertLessThan(monotonicSeconds() - started, 30, "\(faults): sending took too long")
            let received = try Sock.readExactly(fd, count * reply.count)
            XCTAssertEqual(received.count, count * reply.count, "\(faults)")
            XCTAssertEqual(Array(received.suffix(reply.count)), reply, "\(faults)")
        }
    }

    func testTwoHundredThousandCommandsAgainstASlowReader() throws {
        let proxy = try startProxy(["redis.error:error=LOADING,commands=GET,every=2"])
        let count = 200_000
        let fd = try Sock.connect(port: proxy.port, timeout: 60)
        defer { Sock.close(fd) }
        try Sock.sendAll(fd, resp("AUTH", Self.password))
        XCTAssertEqual(try Sock.readExactly(fd, 5), Array("+OK\r\n".utf8))
        let command = resp("GET", "deep:missing")
        let batch = Array(repeating: command, count: 1000).flatMap { $0 }
        let sender = Worker<Int>("deep pipeline sender") {
            var sent = 0
            while sent < count {
                try Sock.sendAll(fd, batch)
                sent += 1000
            }
            return sent
        }
        sleep(1)
        let missing = Array("$-1\r\n".utf8)
        let loading = Array("-LOADING Redis is loading the dataset in memory\r\n".utf8)
        let expectedLength = count / 2 * (missing.count + loading.count)
        var received: [UInt8] = []
        received.reserveCapacity(expectedLength)
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while received.count < expectedLength {
            let outcome = chunk.withUnsafeMutableBytes { Sock.receive(fd, into: $0) }
            guard case .bytes(let got) = outcome else { return XCTFail("after \(received.count) bytes: \(outcome)") }
            received += chunk[0..<got]
        }
        XCTAssertEqual(try sender.join(timeout: 60), count)
        XCTAssertEqual(received.count, expectedLength)
        var offset = 0
        for index in 0..<count {
            let expected = index % 2 == 1 ? loading : missing
            guard received[offset..<offset + expected.count].elementsEqual(expected) else {
                return XCTFail("reply \(index) out of place: \(String(decoding: received[offset..<min(offset + 60, received.count)], as: UTF8.self).debugDescription)")
            }
            offset += expected.count
        }
        XCTAssertTrue(Sock.waitReadable(fd, timeout: 0.2) == false, "more bytes than replies")
    }
}

/// Twenty clients at once, each pipelining 3,000 commands in uneven pieces while faults answer
/// and hold some of them by key (`*:err` answered LOADING, `*:slow` held 3 ms): each client
/// reads exactly its own replies, in its own order, with Redis's values where Redis answered.
final class RedisProtocolConcurrentPipelineTests: RedisProtocolCase {
    func testTwentyPipeliningClientsEachGetTheirRepliesInOrder() throws {
        let proxy = try startProxy(["redis.error:error=LOADING,keys=*:err", "redis.delay:delay=3ms,keys=*:slow"])
        let port = proxy.port
        let password = Self.password
        let workers = (0..<20).map { client in
            Worker<String>("client \(client)") {
                let loading = "-LOADING Redis is loading the dataset in memory\r\n"
                var request: [UInt8] = []
                var expected = ""
                var counters: [String: Int] = [:]
                for index in 0..<1000 {
                    let suffix = ["plain", "err", "slow"][(index + client) % 3]
                    let key = "c\(client):\(index % 10):\(suffix)"
                    request += resp("SET", key, "v\(index)") + resp("GET", key) + resp("INCR", "c\(client):n:\(suffix)")
                    if suffix == "err" {
                        expected += loading + loading + loading
                    } else {
                        counters[suffix, default: 0] += 1
                        expected += "+OK\r\n" + bulk("v\(index)") + ":\(counters[suffix]!)\r\n"
                    }
                }
                let connection = try RawRedis(port: port, timeout: 30)
                defer { connection.close() }
                guard try connection.call("AUTH", password) == "+OK\r\n" else { return "AUTH failed" }
                var random = SplitMix(seed: UInt64(client))
                var offset = 0
                while offset < request.count {
                    let size = min(Int(random.next() % 3000) + 1, request.count - offset)
                    try connection.send(Array(request[offset..<offset + size]))
                    offset += size
                }
                var replies = ""
                while replies.utf8.count < expected.utf8.count {
                    replies += try connection.replyText(timeout: 20)
                }
                return replies == expected ? "ok" : "replies differ from the \(zip(replies, expected).prefix { $0 == $1 }.count)th character"
            }
        }
        for (client, worker) in workers.enumerated() {
            XCTAssertEqual(try worker.join(timeout: 60), "ok", "client \(client)")
        }
    }
}
