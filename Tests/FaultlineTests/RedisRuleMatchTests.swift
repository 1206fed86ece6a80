@testable import Faultline
import XCTest

/// Which commands a `redis.*` fault acts on (`RedisRule.matches`), with commands framed by
/// `RESPCommandFramer` as the proxy frames them: the commands filter, key globs over each
/// command's key positions, what `redis.error` spares and what `redis.reject_auth` takes; the
/// roles commands have, and how a command is described in events (never with credentials).
final class RedisRuleMatchTests: XCTestCase {
    /// `arguments` as the multibulk command a client library sends, framed.
    static func command(_ arguments: [String], limits: RESPLimits = RESPLimits(),
                        file: StaticString = #filePath, line: UInt = #line) -> RESPCommand {
        var bytes = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            bytes += Array("$\(argument.utf8.count)\r\n".utf8) + Array(argument.utf8) + Array("\r\n".utf8)
        }
        return framed(bytes, limits: limits, file: file, line: line)
    }

    /// An inline command (`GET session:42\r\n`), framed.
    static func inline(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RESPCommand {
        framed(Array("\(text)\r\n".utf8), file: file, line: line)
    }

    private static func framed(_ bytes: [UInt8], limits: RESPLimits = RESPLimits(),
                               file: StaticString, line: UInt) -> RESPCommand {
        let framer = RESPCommandFramer(limits: limits)
        let scan = bytes.withUnsafeBytes { framer.scan($0) }
        XCTAssertEqual(scan, .complete(consumed: bytes.count), file: file, line: line)
        return framer.command
    }

    private func rule(_ spec: String, file: StaticString = #filePath, line: UInt = #line) throws -> RedisRule {
        try XCTUnwrap(RedisRule(Fault(parsing: FaultSpec(parsing: spec))), file: file, line: line)
    }

    private func matches(_ rule: RedisRule, _ arguments: String...) -> Bool {
        let command = Self.command(arguments)
        return rule.matches(command, role: RedisCommandRole.of(command))
    }

    private func detail(_ arguments: String...) -> String {
        let command = Self.command(arguments)
        return RedisCommandKeys.detail(of: command, role: RedisCommandRole.of(command))
    }

    // MARK: commands

    func testCommandsFilterIgnoresCase() throws {
        let rule = try rule("redis.error:error=LOADING,commands=get|Set")
        XCTAssertTrue(matches(rule, "GET", "a"))
        XCTAssertTrue(matches(rule, "get", "a"))
        XCTAssertTrue(matches(rule, "sEt", "a", "1"))
        XCTAssertFalse(matches(rule, "DEL", "a"))
        XCTAssertFalse(matches(rule, "GETSET", "a", "1"), "a whole name, not a prefix")
        XCTAssertFalse(matches(rule, "GE", "a"))
        let inline = Self.inline("get a")
        XCTAssertTrue(rule.matches(inline, role: .of(inline)), "inline commands too")
    }

    func testWithoutCommandsEveryCommandMatches() throws {
        for spec in ["redis.delay:delay=1s", "redis.hang", "redis.close"] {
            let rule = try rule(spec)
            XCTAssertTrue(matches(rule, "GET", "a"), spec)
            XCTAssertTrue(matches(rule, "PING"), spec)
            XCTAssertTrue(matches(rule, "AUTH", "secret"), "\(spec) does not spare AUTH")
            XCTAssertTrue(matches(rule, "HELLO", "3"), "\(spec) does not spare HELLO")
        }
    }

    // MARK: keys

    func testKeysGlobOnTheFirstArgument() throws {
        let rule = try rule("redis.error:error=LOADING,keys=session:*")
        XCTAssertTrue(matches(rule, "GET", "session:42"))
        XCTAssertTrue(matches(rule, "set", "session:42", "x"))
        XCTAssertFalse(matches(rule, "GET", "user:42"))
        XCTAssertFalse(matches(rule, "SET", "user:42", "session:42"), "the value is no key")
        let both = try self.rule("redis.error:error=LOADING,commands=GET,keys=session:*")
        XCTAssertTrue(matches(both, "GET", "session:1"))
        XCTAssertFalse(matches(both, "SET", "session:1", "v"), "commands and keys must both hold")
        XCTAssertFalse(matches(both, "GET", "user:1"))
    }

    func testKeysOfMultiKeyCommands() throws {
        func keyed(_ glob: String, _ arguments: String...) throws -> Bool {
            let command = Self.command(arguments)
            return try rule("redis.hang:keys=\(glob)").matches(command, role: .of(command))
        }
        // MSET k v k v: every other argument.
        XCTAssertTrue(try keyed("k2", "MSET", "k1", "v1", "k2", "v2"))
        XCTAssertFalse(try keyed("v1", "MSET", "k1", "v1", "k2", "v2"))
        XCTAssertTrue(try keyed("k2", "msetnx", "k1", "v1", "k2", "v2"))
        // DEL: all.
        XCTAssertTrue(try keyed("c", "DEL", "a", "b", "c"))
        XCTAssertTrue(try keyed("a", "DEL", "a", "b", "c"))
        XCTAssertFalse(try keyed("d", "DEL", "a", "b", "c"))
        // BLPOP k1 k2 timeout: all but the last.
        XCTAssertTrue(try keyed("q2", "BLPOP", "q1", "q2", "0"))
        XCTAssertTrue(try keyed("q1", "BLPOP", "q1", "q2", "0"))
        XCTAssertFalse(try keyed("0", "BLPOP", "q1", "q2", "0"))
        XCTAssertFalse(try keyed("5", "BRPOP", "q1", "5"))
        // EVAL script numkeys k1 k2 args…
        XCTAssertTrue(try keyed("k2", "EVAL", "return 1", "2", "k1", "k2", "a1"))
        XCTAssertFalse(try keyed("a1", "EVAL", "return 1", "2", "k1", "k2", "a1"))
        XCTAssertFalse(try keyed("return*", "EVAL", "return 1", "2", "k1", "k2", "a1"))
        XCTAssertFalse(try keyed("k1", "EVAL", "return 1", "0", "k1"), "numkeys 0: k1 is an argument")
        XCTAssertFalse(try keyed("k1", "EVALSHA", "abc", "x", "k1"), "numkeys not a number: no keys")
        XCTAssertTrue(try keyed("k1", "fcall", "f", "1", "k1", "a"))
        // XREAD … STREAMS k1 k2 id1 id2.
        XCTAssertTrue(try keyed("s2", "XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"))
        XCTAssertTrue(try keyed("s1", "xread", "block", "0", "streams", "s1", "$"))
        XCTAssertFalse(try keyed("0", "XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"))
        XCTAssertFalse(try keyed("COUNT", "XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"))
        XCTAssertTrue(try keyed("s1", "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", ">"))
        XCTAssertFalse(try keyed("g", "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", ">"))
        // OBJECT ENCODING key: the second argument.
        XCTAssertTrue(try keyed("key", "OBJECT", "ENCODING", "key"))
        XCTAssertFalse(try keyed("ENCODING", "OBJECT", "ENCODING", "key"))
        XCTAssertTrue(try keyed("key", "MEMORY", "USAGE", "key"))
        XCTAssertFalse(try keyed("*", "OBJECT", "HELP"))
    }

    func testKeylessCommandsNeverMatchAKeysGlob() throws {
        let rule = try rule("redis.hang:keys=*")
        XCTAssertTrue(matches(rule, "GET", "x"))
        XCTAssertFalse(matches(rule, "PING"))
        XCTAssertFalse(matches(rule, "PING", "hello"), "PING's argument is a message, not a key")
        XCTAssertFalse(matches(rule, "FLUSHALL"))
        XCTAssertFalse(matches(rule, "SELECT", "1"))
        XCTAssertFalse(matches(rule, "PUBLISH", "channel", "msg"))
        XCTAssertFalse(matches(rule, "KEYS", "*"))
        XCTAssertFalse(matches(rule, "AUTH", "secret"))
        XCTAssertFalse(matches(rule, "GET"), "a GET without its key has none")
    }

    func testKeyIndexes() {
        func indexes(_ arguments: String...) -> [Int] {
            let command = Self.command(arguments)
            return RedisCommandKeys.indexes(of: command, name: RedisCommandKeys.name(of: command))
        }
        XCTAssertEqual(indexes("GET", "a"), [1])
        XCTAssertEqual(indexes("HSET", "h", "f", "v"), [1], "an unlisted command has its key first")
        XCTAssertEqual(indexes("MSET", "a", "1", "b", "2"), [1, 3])
        XCTAssertEqual(indexes("DEL", "a", "b", "c"), [1, 2, 3])
        XCTAssertEqual(indexes("BLPOP", "a", "b", "0"), [1, 2])
        XCTAssertEqual(indexes("EVAL", "s", "2", "a", "b", "c"), [3, 4])
        XCTAssertEqual(indexes("EVAL", "s", "5", "a"), [3], "numkeys beyond the arguments: those there")
        XCTAssertEqual(indexes("XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"), [4, 5])
        XCTAssertEqual(indexes("OBJECT", "ENCODING", "k"), [2])
        XCTAssertEqual(indexes("PING"), [])
        XCTAssertEqual(indexes("FLUSHALL", "ASYNC"), [])
        XCTAssertEqual(RedisCommandKeys.name(of: Self.command(["xReadGroup"])), "XREADGROUP")
    }

    // MARK: handshakes

    func testRedisErrorWithoutCommandsSparesAuthAndHello() throws {
        let rule = try rule("redis.error:error=LOADING")
        XCTAssertTrue(matches(rule, "GET", "a"))
        XCTAssertTrue(matches(rule, "PING"))
        XCTAssertFalse(matches(rule, "AUTH", "secret"))
        XCTAssertFalse(matches(rule, "auth", "user", "secret"))
        XCTAssertFalse(matches(rule, "HELLO", "3"))
        XCTAssertFalse(matches(rule, "HELLO", "3", "AUTH", "u", "p"))
        XCTAssertFalse(matches(rule, "HELLO"))
        let named = try self.rule("redis.error:error=WRONGPASS,commands=AUTH")
        XCTAssertTrue(matches(named, "AUTH", "secret"), "named, AUTH is not spared")
        XCTAssertFalse(matches(named, "HELLO", "3", "AUTH", "u", "p"))
    }

    func testRejectAuthTakesCommandsThatSendCredentials() throws {
        let rule = try rule("redis.reject_auth")
        XCTAssertTrue(matches(rule, "AUTH", "secret"))
        XCTAssertTrue(matches(rule, "AUTH", "user", "secret"))
        XCTAssertTrue(matches(rule, "auth", "secret"))
        XCTAssertTrue(matches(rule, "HELLO", "3", "AUTH", "u", "p"))
        XCTAssertTrue(matches(rule, "hello", "3", "auth", "u", "p", "setname", "x"))
        XCTAssertTrue(matches(rule, "HELLO", "2", "SETNAME", "x", "AUTH", "u", "p"))
        XCTAssertFalse(matches(rule, "HELLO", "3"))
        XCTAssertFalse(matches(rule, "HELLO"))
        XCTAssertFalse(matches(rule, "HELLO", "3", "SETNAME", "x"))
        XCTAssertFalse(matches(rule, "GET", "a"))
        XCTAssertFalse(matches(rule, "PING"))
        XCTAssertFalse(matches(rule, "CLIENT", "SETNAME", "AUTH"))
    }

    // MARK: actions

    func testActionsAndCounting() throws {
        func action(_ spec: String) throws -> String {
            switch try rule(spec).action {
            case .answer(let text): "answer \(text)"
            case .redirect(let code, let node): "redirect \(code) \(node)"
            case .delay(let wait): "delay \(wait)"
            case .hang: "hang"
            case .close(let reset): "close reset=\(reset)"
            }
        }
        XCTAssertEqual(try action("redis.reject_auth"), "answer NOAUTH Authentication required.")
        XCTAssertEqual(try action("redis.reject_auth:error=wrongpass"),
                       "answer WRONGPASS invalid username-password pair or user is disabled.")
        XCTAssertEqual(try action("redis.reject_auth:error=go away"), "answer ERR go away")
        XCTAssertEqual(try action("redis.error:error=LOADING"), "answer LOADING Redis is loading the dataset in memory")
        XCTAssertEqual(try action("redis.error:error=READONLY You can't write"), "answer READONLY You can't write")
        XCTAssertEqual(try action("redis.error:error=moved,to=127.0.0.1:6381"), "redirect MOVED 127.0.0.1:6381")
        XCTAssertEqual(try action("redis.error:error=ASK,to=h:7000"), "redirect ASK h:7000")
        XCTAssertEqual(try action("redis.delay:delay=500ms"), "delay \(Duration.milliseconds(500))")
        XCTAssertEqual(try action("redis.hang"), "hang")
        XCTAssertEqual(try action("redis.close"), "close reset=false")
        XCTAssertEqual(try action("redis.close:how=rst"), "close reset=true")

        XCTAssertFalse(try rule("redis.reject_auth").perClient)
        XCTAssertTrue(try rule("redis.reject_auth:per=client").perClient)
        XCTAssertTrue(try rule("redis.reject_auth").authOnly)
        XCTAssertFalse(try rule("redis.error:error=LOADING").authOnly)
        XCTAssertNil(RedisRule(try Fault(parsing: FaultSpec(parsing: "redis.max_clients"))), "max_clients decides at connect")
        XCTAssertNil(RedisRule(try Fault(parsing: FaultSpec(parsing: "tcp.latency:ms=10"))))
    }

    // MARK: roles

    func testRoles() {
        func role(_ arguments: String...) -> RedisCommandRole { .of(Self.command(arguments)) }
        XCTAssertEqual(role("AUTH", "secret"), .auth)
        XCTAssertEqual(role("auth", "user", "secret"), .auth)
        XCTAssertEqual(role("HELLO"), .hello(version: nil, auth: false))
        XCTAssertEqual(role("HELLO", "3"), .hello(version: 3, auth: false))
        XCTAssertEqual(role("hello", "2"), .hello(version: 2, auth: false))
        XCTAssertEqual(role("HELLO", "3", "AUTH", "default", "secret"), .hello(version: 3, auth: true))
        XCTAssertEqual(role("HELLO", "3", "SETNAME", "app"), .hello(version: 3, auth: false))
        XCTAssertEqual(role("HELLO", "three"), .hello(version: nil, auth: false))
        XCTAssertEqual(role("SUBSCRIBE", "news"), .subscribe)
        XCTAssertEqual(role("psubscribe", "news.*"), .subscribe)
        XCTAssertEqual(role("SSUBSCRIBE", "shard"), .subscribe)
        XCTAssertEqual(role("UNSUBSCRIBE"), .plain)
        XCTAssertEqual(role("MONITOR"), .stream)
        XCTAssertEqual(role("CLIENT", "REPLY", "OFF"), .stream)
        XCTAssertEqual(role("client", "reply", "skip"), .stream)
        XCTAssertEqual(role("CLIENT", "REPLY", "ON"), .plain)
        XCTAssertEqual(role("CLIENT", "LIST"), .plain)
        XCTAssertEqual(role("CLIENT"), .plain)
        XCTAssertEqual(role("GET", "a"), .plain)
        XCTAssertEqual(role("AUTHX", "a"), .plain)

        XCTAssertTrue(RedisCommandRole.auth.isHandshake)
        XCTAssertTrue(RedisCommandRole.hello(version: 3, auth: false).isHandshake)
        XCTAssertFalse(RedisCommandRole.plain.isHandshake)
        XCTAssertFalse(RedisCommandRole.subscribe.isHandshake)
        XCTAssertTrue(RedisCommandRole.auth.authenticates)
        XCTAssertTrue(RedisCommandRole.hello(version: 3, auth: true).authenticates)
        XCTAssertFalse(RedisCommandRole.hello(version: 3, auth: false).authenticates)
        XCTAssertFalse(RedisCommandRole.stream.authenticates)
    }

    // MARK: details

    func testDetailNamesTheCommandAndItsFirstKey() {
        XCTAssertEqual(detail("GET", "session:42"), "GET session:42")
        XCTAssertEqual(detail("get", "session:42"), "GET session:42")
        XCTAssertEqual(detail("SET", "session:42", "value"), "SET session:42")
        XCTAssertEqual(detail("MSET", "a", "1", "b", "2"), "MSET a")
        XCTAssertEqual(detail("OBJECT", "ENCODING", "k"), "OBJECT k")
        XCTAssertEqual(detail("PING"), "PING")
        XCTAssertEqual(detail("FLUSHALL"), "FLUSHALL")
        XCTAssertEqual(detail("SELECT", "1"), "SELECT")
        XCTAssertEqual(detail("HELLO"), "HELLO")
        XCTAssertEqual(detail("HELLO", "3"), "HELLO 3")
        XCTAssertEqual(detail("hello", "3", "setname", "app"), "HELLO 3")
        let inline = Self.inline("get session:42")
        XCTAssertEqual(RedisCommandKeys.detail(of: inline, role: .of(inline)), "GET session:42")
    }

    func testDetailNeverHoldsCredentials() {
        let password = "s3cr3t-hunter2"
        let details = [
            detail("AUTH", password), detail("auth", "alice", password),
            detail("HELLO", "3", "AUTH", "alice", password), detail("HELLO", "3", "AUTH", "alice", password, "SETNAME", "app"),
        ]
        XCTAssertEqual(details, ["AUTH", "AUTH", "HELLO 3 AUTH", "HELLO 3 AUTH"])
        for text in details {
            XCTAssertFalse(text.contains(password), text)
            XCTAssertFalse(text.contains("alice"), text)
        }
    }

    func testLongKeysAreCut() {
        let key = String(repeating: "k", count: 300)
        XCTAssertEqual(detail("GET", key), "GET " + String(repeating: "k", count: 128) + "…")
        XCTAssertEqual(detail("GET", String(repeating: "k", count: 128)), "GET " + String(repeating: "k", count: 128), "128 bytes are whole")
        XCTAssertEqual(detail("GET", String(repeating: "k", count: 129)), "GET " + String(repeating: "k", count: 128) + "…")
        // Longer than the framer captures (1024 bytes): cut the same way.
        XCTAssertEqual(detail("GET", String(repeating: "k", count: 5000)), "GET " + String(repeating: "k", count: 128) + "…")
    }

    /// A key cut by the framer's capture could be any key past the cut: it matches on what was
    /// captured, as the glob reads it.
    func testAKeyLongerThanTheCaptureMatchesOnItsCapturedStart() throws {
        var limits = RESPLimits()
        limits.captureBytes = 8
        let command = Self.command(["GET", "session:123456"], limits: limits)
        XCTAssertTrue(command.isTruncated(1))
        XCTAssertEqual(command.argument(1).map { String(decoding: $0, as: UTF8.self) }, "session:")
        XCTAssertTrue(try rule("redis.hang:keys=session:*").matches(command, role: .of(command)))
    }
}
