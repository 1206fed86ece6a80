import Foundation
import Glibc
import XCTest

/// The reply side against a scripted upstream (a socket the test writes exactly): replies split
/// into single bytes still meet faultline's answers in order, and bytes that are not RESP end
/// the link after the replies that came whole, leaving the proxy up.
final class RedisProtocolUpstreamTests: IntegrationCase {
    private func readAll(_ fd: Int32, count: Int) throws -> String {
        String(decoding: try Sock.readExactly(fd, count), as: UTF8.self)
    }

    /// GET a, DECR (faultline: OOM), GET b, PING: the upstream answers its three commands one
    /// byte at a time, RESP3 aggregates included; the client reads them in command order.
    func testRepliesSplitIntoSingleBytesKeepTheirPlaces() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let replies = "%1\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n" + "|1\r\n+ttl\r\n:3\r\n$2\r\nbb\r\n" + "+PONG\r\n"
        let server = upstream.serve { fd -> String in
            let expected = resp("GET", "a") + resp("GET", "b") + resp("PING")
            let got = try Sock.readExactly(fd, expected.count)
            for byte in Array(replies.utf8) {
                try Sock.sendAll(fd, [byte])
                usleep(200)
            }
            _ = Sock.readToEnd(fd)
            return String(decoding: got, as: UTF8.self)
        }
        let proxy = try ProxyProcess.start(upstream: upstream.address, ["--protocol", "redis", "--fault", "redis.error:error=OOM,commands=DECR"])
        let fd = try Sock.connect(port: proxy.port)
        defer { Sock.close(fd) }
        try Sock.sendAll(fd, resp("GET", "a") + resp("DECR", "c") + resp("GET", "b") + resp("PING"))
        let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        let expected = "%1\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n" + oom + "|1\r\n+ttl\r\n:3\r\n$2\r\nbb\r\n" + "+PONG\r\n"
        XCTAssertEqual(try readAll(fd, count: expected.utf8.count), expected)
        Sock.shutdownWrite(fd)
        XCTAssertEqual(try server.join(timeout: 10), String(decoding: resp("GET", "a") + resp("GET", "b") + resp("PING"), as: UTF8.self),
                       "the DECR never reached the upstream")
    }

    /// An upstream that answers the first command and then sends bytes that are not RESP: the
    /// client gets the first reply, then the end of the connection; the proxy logs why and
    /// goes on serving.
    func testUpstreamGarbageEndsTheLinkAfterTheWholeReplies() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let server = upstream.serve { fd in
            _ = try Sock.readExactly(fd, resp("GET", "a").count + resp("GET", "b").count)
            try Sock.sendAll(fd, Array("$1\r\nx\r\n".utf8) + Array("?garbage\r\n".utf8))
            _ = Sock.readToEnd(fd)
        }
        let proxy = try ProxyProcess.start(upstream: upstream.address, ["--protocol", "redis"])
        let fd = try Sock.connect(port: proxy.port)
        defer { Sock.close(fd) }
        try Sock.sendAll(fd, resp("GET", "a") + resp("GET", "b"))
        let (bytes, end) = Sock.readToEnd(fd)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "$1\r\nx\r\n")
        XCTAssertEqual(end, .eof)
        try server.join(timeout: 10)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.process.stderrText.contains("upstream sent bytes that are not RESP") },
                      proxy.process.stderrText)
        XCTAssertTrue(proxy.process.isRunning)
        XCTAssertFalse(proxy.process.stderrText.contains("[warn]"), proxy.process.stderrText)
    }
}
