import Foundation
import Glibc
import XCTest

/// Every object a Redis link makes (link, pipes, session, timers, effects) dies with it,
/// whichever redis fault acted on it: after each script the live-object counts of an in-process
/// proxy are back where they were before any link.
final class RedisProtocolLiveObjectTests: RedisProtocolCase {
    /// Runs `script` against an in-process proxy with `faults`, then checks that every link
    /// closed and left nothing behind within `seconds`.
    private func assertReleased(_ faults: [String], within seconds: Double = 3, file: StaticString = #filePath,
                                line: UInt = #line, _ script: (UInt16) throws -> Void) throws {
        let (proxy, _) = try inProcessProxy(faults)
        defer { proxy.stop(file: file, line: line) }
        try script(proxy.port)
        XCTAssertTrue(waitUntil(timeout: seconds) { (try? proxy.stats.open) == 0 },
                      "links still open: \((try? proxy.stats.open) ?? -1)", file: file, line: line)
        proxy.assertLinkObjectsReleased(waiting: 1, file: file, line: line)
    }

    func testRejectAuthLinksReleaseEverything() throws {
        try assertReleased(["redis.reject_auth:first=2"]) { port in
            for expected in ["-NOAUTH Authentication required.\r\n", "-NOAUTH Authentication required.\r\n", "+OK\r\n"] {
                let connection = try raw(port: port)
                XCTAssertEqual(try connection.call("AUTH", Self.password), expected)
                connection.close()
            }
        }
    }

    func testErrorAndMovedLinksReleaseEverything() throws {
        try assertReleased(["redis.error:error=LOADING,commands=GET", "redis.error:error=MOVED,to=127.0.0.1:7000,commands=SET,name=moved"]) { port in
            let connection = try authenticated(port: port)
            try connection.send(resp("GET", "a") + resp("SET", "foo", "1") + resp("PING"))
            XCTAssertEqual(try connection.replyText(), "-LOADING Redis is loading the dataset in memory\r\n")
            XCTAssertEqual(try connection.replyText(), "-MOVED 12182 127.0.0.1:7000\r\n", "foo's cluster slot is 12182")
            XCTAssertEqual(try connection.replyText(), "+PONG\r\n")
            connection.close()
        }
    }

    func testDelayLinksReleaseEverythingOnceDelivered() throws {
        try assertReleased(["redis.delay:delay=200ms,commands=GET"]) { port in
            let connection = try authenticated(port: port)
            XCTAssertEqual(try connection.call("GET", "nothing"), "$-1\r\n")
            connection.close()
        }
    }

    /// A client that closes while its reply is held: the held reply cannot outlive the link for
    /// longer than its delay, and nothing is left once it is due.
    func testPendingDelayedReplyWhenTheClientClosesLeaksNothing() throws {
        try assertReleased(["redis.delay:delay=1s,commands=GET"], within: 4) { port in
            for _ in 0..<5 {
                let connection = try authenticated(port: port)
                try connection.send(resp("GET", "a") + resp("GET", "b") + resp("PING"))
                connection.close()
            }
        }
    }

    /// A client that only shuts down its writing side still gets its held reply, then the end.
    func testHalfClosedClientStillGetsItsDelayedReply() throws {
        XCTAssertEqual(try direct("SET", "a", "held"), "+OK\r\n")
        try assertReleased(["redis.delay:delay=500ms,commands=GET"]) { port in
            let fd = try Sock.connect(port: port)
            defer { Sock.close(fd) }
            let started = monotonicSeconds()
            try Sock.sendAll(fd, resp("AUTH", Self.password) + resp("GET", "a"))
            Sock.shutdownWrite(fd)
            let (bytes, end) = Sock.readToEnd(fd)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "+OK\r\n" + bulk("held"))
            XCTAssertEqual(end, .eof)
            XCTAssertGreaterThanOrEqual(monotonicSeconds() - started, 0.5)
        }
    }

    /// A hung command's link ends as soon as its client leaves (no timer keeps it).
    func testHangLinksReleaseEverythingWhenTheClientLeaves() throws {
        try assertReleased(["redis.hang:commands=GET"], within: 1) { port in
            for _ in 0..<5 {
                let connection = try authenticated(port: port)
                try connection.send(resp("GET", "a") + resp("PING"))
                XCTAssertTrue(connection.isSilent(for: 0.05))
                connection.close()
            }
        }
    }

    func testCloseLinksReleaseEverything() throws {
        for how in ["fin", "rst"] {
            try assertReleased(["redis.close:commands=GET,how=\(how)"]) { port in
                let connection = try authenticated(port: port)
                try connection.send(resp("PING") + resp("GET", "a"))
                let (bytes, end) = connection.readToEnd(timeout: 5)
                XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "+PONG\r\n", how)
                XCTAssertEqual(end, how == "fin" ? "EOF" : "RST")
            }
        }
    }

    func testMaxClientsLinksReleaseEverything() throws {
        try assertReleased(["redis.max_clients:first=3"]) { port in
            for _ in 0..<3 {
                let (bytes, end) = try raw(port: port).readToEnd(timeout: 5)
                XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "-ERR max number of clients reached\r\n")
                XCTAssertEqual(end, "EOF")
            }
            let connection = try authenticated(port: port)
            XCTAssertEqual(try connection.call("PING"), "+PONG\r\n")
            connection.close()
        }
    }

    /// Garbage from the client: the error, the close, and nothing left.
    func testProtocolErrorLinksReleaseEverything() throws {
        try assertReleased([]) { port in
            let connection = try authenticated(port: port)
            try connection.send("*1\r\n$-5\r\n")
            let (bytes, end) = connection.readToEnd(timeout: 5)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "-ERR Protocol error: invalid bulk length\r\n")
            XCTAssertEqual(end, "EOF")
        }
    }
}
