import Foundation
import Glibc
import XCTest

/// redis.hang, redis.close, redis.delay and redis.max_clients as clients meet them: redis-py's
/// exceptions and their exact texts, redis-cli's output, raw bytes and how the connection ends.
final class RedisProtocolFaultTests: RedisProtocolCase {
    /// redis-py with socket_timeout=1 meets a hung GET as TimeoutError after ~1 s.
    func testHangMakesRedisPyTimeOut() throws {
        let proxy = try startProxy(["redis.hang:commands=GET"])
        let result = try pythonOne("call", port: proxy.port, ["--timeout", "1", "--resp", "2", "--command", "GET", "hung:key"])
        XCTAssertEqual(result["ok"] as? Bool, false, "\(result)")
        XCTAssertEqual(result["error"] as? String, "TimeoutError")
        XCTAssertEqual(result["message"] as? String, "Timeout reading from socket")
        let seconds = result["seconds"] as? Double ?? 0
        XCTAssertTrue(seconds >= 0.95 && seconds < 3, "timed out after \(seconds) s")
    }

    /// A hung GET holds everything behind it on its connection (a PING sent after it is not
    /// answered) while other connections go on; removing the fault sends the GET on, and the
    /// still-open connection reads the value then PONG.
    func testRemovingHangAnswersTheHeldCommandOnTheOpenConnection() throws {
        let (proxy, events) = try inProcessProxy(["redis.hang:commands=GET"])
        defer { proxy.stop() }
        XCTAssertEqual(try direct("SET", "hung:key", "finally"), "+OK\r\n")
        let hung = try authenticated(port: proxy.port)
        try hung.send(resp("GET", "hung:key") + resp("PING"))
        XCTAssertTrue(hung.isSilent(for: 0.5), "the hung GET or the PING behind it was answered")
        let other = try authenticated(port: proxy.port)
        XCTAssertEqual(try other.call("PING"), "+PONG\r\n", "another connection is not held")
        XCTAssertTrue(try proxy.removeFault(named: "redis.hang"))
        XCTAssertEqual(try hung.replyText(timeout: 5), bulk("finally"))
        XCTAssertEqual(try hung.replyText(timeout: 5), "+PONG\r\n")
        XCTAssertEqual(try hung.call("GET", "hung:key"), bulk("finally"), "the fault is gone")
        XCTAssertEqual(events.requests.filter { $0 == "GET hung:key" }.count, 2)
    }

    /// Faults come and go on live connections: an error added acts on the open connection's next
    /// command; removing a delay lets a held reply out at once; removing the error lets the
    /// next command through to Redis.
    func testFaultsAddedAndRemovedActOnOpenConnections() throws {
        let (proxy, _) = try inProcessProxy([])
        defer { proxy.stop() }
        let connection = try authenticated(port: proxy.port)
        XCTAssertEqual(try connection.call("SET", "live:key", "v"), "+OK\r\n")
        let error = try proxy.add("redis.error:error=TRYAGAIN,commands=GET")
        XCTAssertEqual(try connection.call("GET", "live:key"), "-TRYAGAIN Multiple keys request during rehashing of slot\r\n")
        XCTAssertTrue(try proxy.removeFault(named: error))
        let delay = try proxy.add("redis.delay:delay=10s,commands=GET")
        try connection.send(resp("GET", "live:key"))
        XCTAssertTrue(connection.isSilent(for: 0.3), "the delayed reply came early")
        let removed = monotonicSeconds()
        XCTAssertTrue(try proxy.removeFault(named: delay))
        XCTAssertEqual(try connection.replyText(timeout: 5), bulk("v"))
        XCTAssertLessThan(monotonicSeconds() - removed, 1, "the held reply waited for its 10 s after the fault went")
        XCTAssertEqual(try connection.call("GET", "live:key"), bulk("v"))
    }

    /// A hang decided on a large command's head (the first 64 KB of a 4 MB SET): the rest of the
    /// value waits unread with it, and when the fault goes the whole SET reaches Redis.
    func testHungLargeCommandGoesOnWholeWhenTheFaultGoes() throws {
        let (proxy, _) = try inProcessProxy(["redis.hang:commands=SET"])
        defer { proxy.stop() }
        let connection = try authenticated(port: proxy.port)
        let value = String(repeating: "0123456789abcdef", count: 1 << 18)
        let sender = Worker<Void>("large SET") { [connection] in try connection.send(resp("SET", "hung:big", value) + resp("PING")) }
        XCTAssertTrue(connection.isSilent(for: 0.5))
        XCTAssertTrue(try proxy.removeFault(named: "redis.hang"))
        try sender.join(timeout: 10)
        XCTAssertEqual(try connection.replyText(timeout: 10), "+OK\r\n")
        XCTAssertEqual(try connection.replyText(timeout: 10), "+PONG\r\n")
        XCTAssertEqual(try direct("STRLEN", "hung:big"), ":\(value.utf8.count)\r\n")
    }

    /// how=fin: the replies owed before the matching command arrive, then a FIN; redis-py says
    /// "Connection closed by server.".
    func testCloseFinDeliversEarlierRepliesThenEnds() throws {
        let proxy = try startProxy(["redis.close:commands=GET"])
        let result = try pythonOne("call", port: proxy.port, ["--resp", "2", "--command", "GET", "closing:key"])
        XCTAssertEqual(result["error"] as? String, "ConnectionError", "\(result)")
        XCTAssertEqual(result["message"] as? String, "Connection closed by server.")
        let connection = try authenticated(port: proxy.port)
        try connection.send(resp("SET", "closing:key", "1") + resp("INCR", "closing:count") + resp("GET", "closing:key") + resp("PING"))
        let (bytes, end) = connection.readToEnd(timeout: 5)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "+OK\r\n:1\r\n")
        XCTAssertEqual(end, "EOF")
        XCTAssertTrue(proxy.process.isRunning)
        assertNoLibeventWarnings(proxy)
    }

    /// how=rst: redis-py reports the reset with the errno text; a raw client gets the replies
    /// owed before the command, then ECONNRESET.
    func testCloseRstResetsTheConnection() throws {
        let proxy = try startProxy(["redis.close:commands=GET,how=rst"])
        let result = try pythonOne("call", port: proxy.port, ["--resp", "2", "--command", "GET", "closing:key"])
        XCTAssertEqual(result["error"] as? String, "ConnectionError", "\(result)")
        XCTAssertEqual(result["message"] as? String,
                       "Error while reading from 127.0.0.1:\(proxy.port) : (104, 'Connection reset by peer')")
        let connection = try authenticated(port: proxy.port)
        try connection.send(resp("SET", "closing:key", "1") + resp("GET", "closing:key") + resp("PING"))
        let (bytes, end) = connection.readToEnd(timeout: 5)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "+OK\r\n")
        XCTAssertEqual(end, "RST")
        assertNoLibeventWarnings(proxy)
    }

    /// A close waits its turn behind a held reply: GET (delayed 300 ms) then PING (closes): the
    /// GET's reply arrives after the delay, then the FIN.
    func testCloseWaitsForTheDelayedReplyBeforeIt() throws {
        let proxy = try startProxy(["redis.delay:delay=300ms,commands=GET", "redis.close:commands=PING"])
        let connection = try authenticated(port: proxy.port)
        let started = monotonicSeconds()
        try connection.send(resp("GET", "a") + resp("PING") + resp("GET", "a"))
        let (bytes, end) = connection.readToEnd(timeout: 5)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "$-1\r\n")
        XCTAssertEqual(end, "EOF")
        XCTAssertGreaterThanOrEqual(monotonicSeconds() - started, 0.3)
        assertNoLibeventWarnings(proxy)
    }

    /// delay=300ms on GET: redis-py's GET takes 300 ms (within 150 ms over); three pipelined
    /// commands, two of them delayed, are all answered ~300 ms after they were sent (each
    /// delay counts from its own command's arrival), in order.
    func testDelayHoldsEachMatchingReplyFromItsOwnArrival() throws {
        let proxy = try startProxy(["redis.delay:delay=300ms,commands=GET"])
        let result = try pythonOne("call", port: proxy.port, ["--resp", "2", "--command", "GET", "delayed:key"])
        XCTAssertEqual(result["ok"] as? Bool, true, "\(result)")
        let seconds = result["seconds"] as? Double ?? 0
        XCTAssertTrue(seconds >= 0.3 && seconds <= 0.45 + 0.3, "GET took \(seconds) s")

        XCTAssertEqual(try direct("SET", "delayed:key", "v"), "+OK\r\n")
        let connection = try authenticated(port: proxy.port)
        let started = monotonicSeconds()
        try connection.send(resp("GET", "delayed:key") + resp("PING") + resp("GET", "delayed:key"))
        XCTAssertEqual(try connection.replyText(), bulk("v"))
        let first = monotonicSeconds() - started
        XCTAssertEqual(try connection.replyText(), "+PONG\r\n")
        XCTAssertEqual(try connection.replyText(), bulk("v"))
        let last = monotonicSeconds() - started
        XCTAssertTrue(first >= 0.3 && first <= 0.75, "first GET after \(first) s")
        XCTAssertTrue(last <= first + 0.2, "the second GET waited again: \(last) s vs \(first) s")
    }

    /// max_clients first=1: the first connection gets Redis's own maxclients bytes then a FIN
    /// (compared with a redis-server really at maxclients 1); redis-cli and redis-py report it;
    /// the connections after it are not touched.
    func testMaxClientsTurnsAwayTheFirstConnectionAsRedisDoes() throws {
        let full = try Sock.freePort()
        _ = try ChildProcess.spawn(try TLSTools.require("redis-server", package: "redis-server"), [
            "--port", "\(full)", "--bind", "127.0.0.1", "--maxclients", "1", "--save", "", "--appendonly", "no",
        ])
        var holder: RawRedis?
        XCTAssertTrue(waitUntil(timeout: 10) {
            holder = try? RawRedis(port: full, timeout: 1)
            return (try? holder?.call("PING")) == "+PONG\r\n"
        })
        let refused = try RawRedis(port: full)
        let fromRedis = refused.readToEnd(timeout: 5)
        XCTAssertEqual(String(decoding: fromRedis.bytes, as: UTF8.self), "-ERR max number of clients reached\r\n")
        XCTAssertEqual(fromRedis.end, "EOF")
        holder?.close()

        for client in ["raw", "redis-cli", "redis-py"] {
            let proxy = try startProxy(["redis.max_clients:first=1"])
            switch client {
            case "raw":
                let turnedAway = try RawRedis(port: proxy.port).readToEnd(timeout: 5)
                XCTAssertEqual(turnedAway.bytes, fromRedis.bytes)
                XCTAssertEqual(turnedAway.end, "EOF")
            case "redis-cli":
                // redis-cli then sends PING on the closed connection: it reports "Server closed
                // the connection", or dies of SIGPIPE when the close won the race (as against a
                // real Redis at maxclients).
                let result = try cli(port: proxy.port, ["ping"])
                XCTAssertTrue([.exited(1), .signaled(SIGPIPE)].contains(result.ended), "\(result)")
                XCTAssertEqual(result.stderr.split(separator: "\n").first, "AUTH failed: ERR max number of clients reached")
                XCTAssertEqual(result.stdout, "")
            default:
                let result = try pythonOne("call", port: proxy.port, ["--resp", "2", "--command", "PING"])
                XCTAssertEqual(result["error"] as? String, "ConnectionError", "\(result)")
                XCTAssertEqual(result["message"] as? String, "max number of clients reached")
            }
            let next = try cli(port: proxy.port, ["ping"])
            XCTAssertEqual(next.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "PONG", "\(client): the next connection")
        }
    }
}
