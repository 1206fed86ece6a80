import Foundation
import Glibc
import XCTest

/// Client bytes that are not RESP, and declared sizes meant to make a server allocate: through
/// `--protocol redis` each client gets exactly what redis-server itself answers to the same
/// bytes (asked directly, compared byte for byte) and its connection ends as Redis ends it;
/// the proxy stays up, other connections go on, and its memory does not grow.
final class RedisProtocolGarbageTests: RedisProtocolCase {
    func testGarbageGetsRedisOwnProtocolErrorAndOnlyThatConnectionCloses() throws {
        try checkGarbage(tls: false)
    }

    func testDeclaredHugeSizesAllocateNothing() throws {
        try checkHugeDeclarations(tls: false)
    }
}

extension RedisProtocolCase {
    /// Bytes a client might send, each on a fresh connection.
    static var garbage: [(name: String, bytes: [UInt8], authenticate: Bool)] {
        var random = SplitMix(seed: 7)
        let noise = (0..<61).map { _ in UInt8(truncatingIfNeeded: random.next() | 0x80) }
        return [
            // Redis judges these counts from the header alone; with no command fault active
            // faultline forwards a command from its first byte, so the header alone is answered.
            ("2^31-1 arguments declared, header alone, unauthenticated", Array("*2147483647\r\n".utf8), false),
            ("11 arguments declared, header alone, unauthenticated", Array("*11\r\n".utf8), false),
            ("2^31-1 arguments declared, 64 sent, unauthenticated",
             Array("*2147483647\r\n".utf8) + Array(repeating: Array("$1\r\nx\r\n".utf8), count: 64).flatMap { $0 }, false),
            ("11 arguments, unauthenticated", resp(["MSET"] + (1...10).map { "a\($0)" }), false),
            ("a 512 MB bulk header alone, unauthenticated", Array("*1\r\n$536870912\r\n".utf8), false),
            ("a negative bulk length", Array("*1\r\n$-5\r\n".utf8), false),
            ("a negative bulk length, authenticated", Array("*1\r\n$-5\r\n".utf8), true),
            ("random bytes after an argument count", Array("*3\r\n".utf8) + noise + Array("\r\n".utf8), true),
            ("a letter for an argument count", Array("*x\r\n".utf8), true),
            ("an inline line over 64 KB", [UInt8](repeating: UInt8(ascii: "A"), count: 70 * 1024), true),
            ("unbalanced quotes", Array("SET \"a b\r\n".utf8), true),
            ("garbage after pipelined commands", resp("SET", "g:key", "1") + resp("GET", "g:key") + Array("*1\r\n$-5\r\n".utf8), true),
        ]
    }

    /// What a connection to `port` meets for `bytes`: every reply byte and how it ended.
    func meet(_ bytes: [UInt8], port: UInt16, tls: Bool, authenticate: Bool) throws -> (text: String, end: String) {
        let connection = authenticate ? try authenticated(port: port, tls: tls) : try raw(port: port, tls: tls)
        defer { connection.close() }
        try connection.send(bytes)
        let (reply, end) = connection.readToEnd(timeout: 3)
        return (String(decoding: reply, as: UTF8.self), end)
    }

    func checkGarbage(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy([], tls: tls)
        let bystander = try authenticated(port: proxy.port, tls: tls, file: file, line: line)
        for (name, bytes, authenticate) in Self.garbage {
            let fromRedis = try meet(bytes, port: redisPort, tls: false, authenticate: authenticate)
            XCTAssertTrue(fromRedis.text.hasSuffix("\r\n") && fromRedis.text.contains("-ERR Protocol error: "),
                          "\(name): redis-server said \(fromRedis.text.debugDescription)", file: file, line: line)
            XCTAssertEqual(fromRedis.end, "EOF", "\(name): redis-server", file: file, line: line)
            let throughProxy = try meet(bytes, port: proxy.port, tls: tls, authenticate: authenticate)
            XCTAssertEqual(throughProxy.text, fromRedis.text, name, file: file, line: line)
            // Over TLS, Redis closes with close_notify (redis-server --tls-port does); so must faultline.
            XCTAssertEqual(throughProxy.end, tls ? "close_notify" : "EOF", name, file: file, line: line)
            XCTAssertEqual(try bystander.call("PING"), "+PONG\r\n", "another connection after \(name)", file: file, line: line)
        }
        XCTAssertTrue(proxy.process.isRunning, file: file, line: line)
        XCTAssertEqual(try authenticated(port: proxy.port, tls: tls).call("GET", "g:key"), bulk("1"), file: file, line: line)
        assertNoLibeventWarnings(proxy, file: file, line: line)
    }

    /// An authenticated client declaring 2^31-1 arguments or a 512 MB argument and then sending
    /// nothing: Redis waits for the rest, and so does faultline (the connection stays open and
    /// silent) without allocating for it: 16 such connections leave the proxy's VmRSS within
    /// 20 MB of where it was. Closing them ends their links.
    func checkHugeDeclarations(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy([], tls: tls)
        let warm = try authenticated(port: proxy.port, tls: tls, file: file, line: line)
        XCTAssertEqual(try warm.call("PING"), "+PONG\r\n", file: file, line: line)
        let before = try XCTUnwrap(proxy.process.residentKB, file: file, line: line)
        var open: [RawRedis] = []
        for index in 0..<16 {
            let connection = try authenticated(port: proxy.port, tls: tls, file: file, line: line)
            try connection.send(index % 2 == 0 ? "*2147483647\r\n" : "*2\r\n$3\r\nSET\r\n$536870912\r\n")
            open.append(connection)
        }
        for connection in open {
            XCTAssertTrue(connection.isSilent(for: 0.1), "Redis and faultline wait for the rest", file: file, line: line)
        }
        let after = try XCTUnwrap(proxy.process.residentKB, file: file, line: line)
        XCTAssertLessThan(after - before, 20 * 1024, "VmRSS grew from \(before) KB to \(after) KB", file: file, line: line)
        open.forEach { $0.close() }
        XCTAssertEqual(try warm.call("PING"), "+PONG\r\n", file: file, line: line)
        XCTAssertTrue(proxy.process.isRunning, file: file, line: line)
    }
}

/// SplitMix64, for reproducible "random" bytes.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
