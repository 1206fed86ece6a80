@testable import Faultline
import XCTest

/// The `redis.*` faults as `--fault` values: each kind with its defaults, list values, the
/// checks across parameters with their exact texts; the error texts they send (Redis 7.0.15's
/// own), Redis Cluster's key slots and Redis's glob.
final class RedisFaultParsingTests: XCTestCase {
    private func fault(_ text: String) throws -> Fault {
        try Fault(parsing: FaultSpec(parsing: text))
    }

    private func message(_ text: String) -> String { InputCheck.faultMessage(text) }

    private func bytes(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }

    // MARK: kinds and defaults

    func testEveryKindParsesWithItsDefaults() throws {
        let reject = try fault("redis.reject_auth")
        XCTAssertEqual(reject.name, "redis.reject_auth")
        XCTAssertEqual(reject.values, ["error": .word("NOAUTH"), "per": .word("proxy")])
        XCTAssertTrue(reject.kind.selectsCommands)
        XCTAssertEqual(reject.probability, 1)
        XCTAssertNil(reject.first)

        let error = try fault("redis.error:error=LOADING,commands=GET|SET")
        XCTAssertEqual(error.name, "redis.error")
        XCTAssertEqual(error.values, ["error": .word("LOADING"), "commands": .word("GET SET")])

        let delay = try fault("redis.delay:delay=500")
        XCTAssertEqual(delay.name, "redis.delay")
        XCTAssertEqual(delay.values, ["delay": .duration(.milliseconds(500))], "bare numbers are ms")
        XCTAssertEqual(try fault("redis.delay:delay=2s").values["delay"], .duration(.seconds(2)))

        let hang = try fault("redis.hang")
        XCTAssertEqual(hang.name, "redis.hang")
        XCTAssertEqual(hang.values, [:])

        let close = try fault("redis.close")
        XCTAssertEqual(close.name, "redis.close")
        XCTAssertEqual(close.values, ["how": .word("fin")])
        XCTAssertEqual(try fault("redis.close:how=rst").values["how"], .word("rst"))

        let maxClients = try fault("redis.max_clients:first=2")
        XCTAssertEqual(maxClients.name, "redis.max_clients")
        XCTAssertEqual(maxClients.values, [:])
        XCTAssertEqual(maxClients.first, 2)
        XCTAssertFalse(maxClients.kind.selectsCommands, "max_clients acts at connect, not per command")
    }

    func testCommonParametersOnCommandFaults() throws {
        let reject = try fault("redis.reject_auth:first=3,per=client,error=WRONGPASS,name=auth")
        XCTAssertEqual(reject.name, "auth")
        XCTAssertEqual(reject.first, 3)
        XCTAssertEqual(reject.values, ["error": .word("WRONGPASS"), "per": .word("client")])
        let close = try fault("redis.close:commands=GET,every=10")
        XCTAssertEqual(close.every, 10)
        XCTAssertEqual(close.values["commands"], .word("GET"))
    }

    func testEveryRedisKindsExampleParses() throws {
        XCTAssertEqual(RedisFaults.kinds.map(\.name), [
            "redis.reject_auth", "redis.error", "redis.delay", "redis.hang", "redis.close", "redis.max_clients",
        ])
        for kind in RedisFaults.kinds {
            XCTAssertEqual(try fault(kind.example).kind.name, kind.name, kind.example)
        }
    }

    // MARK: lists

    func testListValuesAreWordsSeparatedByBarsOrSpaces() throws {
        XCTAssertEqual(try fault("redis.hang:commands=BLPOP").values["commands"], .word("BLPOP"))
        XCTAssertEqual(try fault("redis.hang:commands=GET|SET|DEL").values["commands"], .word("GET SET DEL"))
        XCTAssertEqual(try fault("redis.hang:commands=GET SET").values["commands"], .word("GET SET"))
        XCTAssertEqual(try fault("redis.hang:commands=|GET||SET|").values["commands"], .word("GET SET"), "empty words are dropped")
        // Kept as written; matching ignores case (RedisRuleMatchTests).
        XCTAssertEqual(try fault("redis.hang:commands=get|Set").values["commands"], .word("get Set"))
        XCTAssertEqual(ParameterType.words(in: "GET|SET,DEL MGET\tEXISTS"), ["GET", "SET", "DEL", "MGET", "EXISTS"])
        XCTAssertEqual(ParameterType.list.name, "list")
    }

    /// `,` separates `--fault` parameters, so `GET,SET` is `commands=GET` and a parameter `SET`.
    func testACommaInACommandListEndsTheParameter() {
        XCTAssertEqual(message("redis.error:error=LOADING,commands=GET,SET"),
                       "invalid fault 'redis.error:error=LOADING,commands=GET,SET': parameter 'SET' is not key=value")
        XCTAssertEqual(message("redis.hang:commands=GET,SET=1"),
                       "invalid fault 'redis.hang': parameter 'SET': redis.hang has no such parameter; "
                           + "it takes commands, keys, name, direction, probability, first, every")
    }

    func testEmptyListsAndTextsAreRefused() {
        XCTAssertEqual(message("redis.hang:commands="),
                       "invalid fault 'redis.hang': parameter 'commands': '' is not a list of words such as GET|SET")
        XCTAssertEqual(message("redis.hang:commands=||"),
                       "invalid fault 'redis.hang': parameter 'commands': '||' is not a list of words such as GET|SET")
        XCTAssertEqual(message("redis.hang:keys="),
                       "invalid fault 'redis.hang': parameter 'keys': '' is not a non-empty text")
    }

    // MARK: checks

    func testRedisErrorNeedsAnError() {
        XCTAssertEqual(message("redis.error"), "invalid fault 'redis.error': parameter 'error': is required by redis.error")
        XCTAssertEqual(message("redis.error:commands=GET"),
                       "invalid fault 'redis.error': parameter 'error': is required by redis.error")
    }

    func testRedirectionsNeedANode() throws {
        XCTAssertEqual(message("redis.error:error=MOVED"),
                       "invalid fault 'redis.error': parameter 'to': is required by error=MOVED: the host:port the client is sent to")
        XCTAssertEqual(message("redis.error:error=ask"),
                       "invalid fault 'redis.error': parameter 'to': is required by error=ASK: the host:port the client is sent to")
        for node in ["bad", ":6381", "host:0", "host:65536", "host:port", "my host:6381", "host:"] {
            XCTAssertEqual(message("redis.error:error=MOVED,to=\(node)"),
                           "invalid fault 'redis.error': parameter 'to': '\(node)' is not host:port with a port from 1 to 65535")
        }
        XCTAssertEqual(try fault("redis.error:error=MOVED,to=127.0.0.1:6381").values["to"], .word("127.0.0.1:6381"))
        XCTAssertEqual(try fault("redis.error:error=ask,to=redis-2.internal:65535").values["error"], .word("ask"))
        XCTAssertEqual(try fault("redis.error:error=MOVED,to=::1:1").values["to"], .word("::1:1"), "the port is after the last colon")
    }

    func testANodeOnlyGoesWithARedirection() {
        for error in ["LOADING", "READONLY", "ERR custom"] {
            XCTAssertEqual(message("redis.error:error=\(error),to=127.0.0.1:6381"),
                           "invalid fault 'redis.error': parameter 'to': only goes with error=MOVED or error=ASK")
        }
    }

    func testAnErrorIsOneLine() {
        XCTAssertEqual(message("redis.error:error=ERR one\ntwo"),
                       "invalid fault 'redis.error': parameter 'error': 'ERR one\ntwo' holds a line break; an error reply is one line")
        XCTAssertEqual(message("redis.error:error=ERR one\rtwo"),
                       "invalid fault 'redis.error': parameter 'error': 'ERR one\rtwo' holds a line break; an error reply is one line")
        XCTAssertEqual(message("redis.reject_auth:error=NOAUTH\n+OK"),
                       "invalid fault 'redis.reject_auth': parameter 'error': 'NOAUTH\n+OK' holds a line break; an error reply is one line")
        XCTAssertNil(RedisErrorText.problem(with: "ERR one line"))
    }

    func testOtherParameterMistakes() {
        XCTAssertEqual(message("redis.close:how=drop"),
                       "invalid fault 'redis.close': parameter 'how': 'drop' is not one of fin, rst")
        XCTAssertEqual(message("redis.reject_auth:per=host"),
                       "invalid fault 'redis.reject_auth': parameter 'per': 'host' is not one of proxy, client")
        XCTAssertEqual(message("redis.delay"), "invalid fault 'redis.delay': parameter 'delay': is required by redis.delay")
        XCTAssertEqual(message("redis.delay:delay=soon"),
                       "invalid fault 'redis.delay': parameter 'delay': 'soon' is not a duration such as 250ms or 2s")
        XCTAssertEqual(message("redis.reject_auth:commands=GET"),
                       "invalid fault 'redis.reject_auth': parameter 'commands': redis.reject_auth has no such parameter; "
                           + "it takes error, per, name, direction, probability, first, every")
        XCTAssertEqual(message("redis.error:error=LOADING,comands=GET"),
                       "invalid fault 'redis.error': parameter 'comands': redis.error has no such parameter (did you mean 'commands'?); "
                           + "it takes error, commands, keys, to, name, direction, probability, first, every")
        XCTAssertEqual(message("redis.max_clients:commands=GET"),
                       "invalid fault 'redis.max_clients': parameter 'commands': redis.max_clients has no such parameter; "
                           + "it takes name, direction, probability, first, every")
        XCTAssertEqual(message("redis.lag"),
                       "invalid fault 'redis.lag': unknown fault kind (did you mean 'redis.hang'?); known kinds: "
                           + "tcp.latency, tcp.bandwidth, tcp.slicer, tcp.slow_close, tcp.timeout, tcp.reset_peer, tcp.limit_data, "
                           + "tcp.down, tcp.connect_delay, tcp.cutoff, tcp.refuse_upstream, tls.profile, tls.alert, "
                           + "tls.handshake_delay, tls.reset_handshake, tls.close_handshake, tls.max_version, "
                           + "tls.require_client_cert, redis.reject_auth, redis.error, redis.delay, redis.hang, redis.close, "
                           + "redis.max_clients, http.respond, http.delay, http.drip, http.truncate, http.abort, http.status, "
                           + "http.ws_reject, http.ws_close")
    }

    // MARK: error texts

    /// Redis 7.0.15's texts (server.c's shared replies, acl.c, cluster.c), after the `-`.
    func testPresetTextsAreRedis7s() {
        let expected = [
            "NOAUTH": "NOAUTH Authentication required.",
            "WRONGPASS": "WRONGPASS invalid username-password pair or user is disabled.",
            "LOADING": "LOADING Redis is loading the dataset in memory",
            "READONLY": "READONLY You can't write against a read only replica.",
            "OOM": "OOM command not allowed when used memory > 'maxmemory'.",
            "BUSY": "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "MASTERDOWN": "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            "CLUSTERDOWN": "CLUSTERDOWN The cluster is down",
            "TRYAGAIN": "TRYAGAIN Multiple keys request during rehashing of slot",
        ]
        XCTAssertEqual(RedisErrorText.codes, [
            "NOAUTH", "WRONGPASS", "LOADING", "READONLY", "OOM", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK",
        ])
        for (code, text) in expected {
            XCTAssertEqual(RedisErrorText.text(for: code), text, code)
            XCTAssertEqual(RedisErrorText.text(for: code.lowercased()), text, "\(code) in lower case")
        }
        XCTAssertEqual(RedisErrorText.text(for: "Loading"), expected["LOADING"])
    }

    func testRedirectionsHaveNoFixedText() {
        for code in ["MOVED", "moved", "ASK", "Ask"] { XCTAssertNil(RedisErrorText.text(for: code), code) }
        XCTAssertEqual(RedisErrorText.redirection("MOVED", key: bytes("foo"), to: "127.0.0.1:6381"), "MOVED 12182 127.0.0.1:6381")
        XCTAssertEqual(RedisErrorText.redirection("ask", key: bytes("{user1000}.following"), to: "10.0.0.2:7000"),
                       "ASK \(RedisKeySlot.slot(of: bytes("user1000"))) 10.0.0.2:7000")
    }

    func testCustomTextsStartingWithACodeAreKeptAndOthersGetERR() {
        XCTAssertEqual(RedisErrorText.text(for: "WRONGTYPE Operation against a key holding the wrong kind of value"),
                       "WRONGTYPE Operation against a key holding the wrong kind of value")
        XCTAssertEqual(RedisErrorText.text(for: "ERR unknown command 'FOO'"), "ERR unknown command 'FOO'")
        XCTAssertEqual(RedisErrorText.text(for: "MY_CODE2 custom"), "MY_CODE2 custom")
        XCTAssertEqual(RedisErrorText.text(for: "NOPERM"), "NOPERM", "a code alone is a code")
        XCTAssertEqual(RedisErrorText.text(for: "something went wrong"), "ERR something went wrong")
        XCTAssertEqual(RedisErrorText.text(for: "Busy doing other things"), "ERR Busy doing other things")
        XCTAssertEqual(RedisErrorText.text(for: "2FA required"), "ERR 2FA required", "a code starts with a letter")
        XCTAssertEqual(RedisErrorText.text(for: "ÉCHEC total"), "ERR ÉCHEC total", "a code is ASCII")
    }

    // MARK: key slots

    func testCRC16IsRedisClustersXMODEM() {
        XCTAssertEqual(RedisKeySlot.crc16(bytes("123456789")), 0x31C3, "the Redis Cluster spec's test vector")
        XCTAssertEqual(RedisKeySlot.crc16([]), 0)
    }

    func testSlotsAndHashTags() {
        func slot(_ key: String) -> Int { RedisKeySlot.slot(of: bytes(key)) }
        XCTAssertEqual(slot("foo"), 12182)
        XCTAssertEqual(slot("somekey"), 11058, "CLUSTER KEYSLOT's documented example")
        XCTAssertEqual(slot("foo{hash_tag}"), 2515, "CLUSTER KEYSLOT's documented example")
        XCTAssertEqual(slot("{user1000}.following"), slot("{user1000}.followers"))
        XCTAssertEqual(slot("{user1000}.following"), slot("user1000"))
        // An empty tag hashes the whole key; so does an unclosed one; the first `}` after the
        // first `{` closes.
        XCTAssertEqual(slot("{}foo"), Int(RedisKeySlot.crc16(bytes("{}foo")) & 0x3FFF))
        XCTAssertNotEqual(slot("{}foo"), slot("foo"))
        XCTAssertEqual(slot("foo{}{bar}"), Int(RedisKeySlot.crc16(bytes("foo{}{bar}")) & 0x3FFF))
        XCTAssertEqual(slot("foo{{bar}}zap"), slot("{bar"))
        XCTAssertEqual(slot("foo{bar}{zap}"), slot("bar"))
        XCTAssertEqual(slot("{foo"), Int(RedisKeySlot.crc16(bytes("{foo")) & 0x3FFF))
        XCTAssertTrue((0..<16384).contains(slot(String(repeating: "x", count: 1000))))
        // A slice not starting at index 0, as `RESPCommand.argument` gives.
        let whole = Array("GET{user1000}.x".utf8)
        XCTAssertEqual(RedisKeySlot.slot(of: whole[3...]), slot("user1000"))
    }

    // MARK: glob

    func testGlobAsRedisKEYS() {
        func matches(_ pattern: String, _ key: String) -> Bool { RedisGlob.matches(bytes(pattern), bytes(key)) }
        XCTAssertTrue(matches("*", ""))
        XCTAssertTrue(matches("*", "anything:at:all"))
        XCTAssertTrue(matches("session:*", "session:42"))
        XCTAssertTrue(matches("session:*", "session:"))
        XCTAssertFalse(matches("session:*", "sessions:42"))
        XCTAssertFalse(matches("session:*", "user:session:42"))
        XCTAssertTrue(matches("*:42", "session:42"))
        XCTAssertTrue(matches("a*b*c", "aXbYbZc"))
        XCTAssertFalse(matches("a*b*c", "aXbYbZ"))

        XCTAssertTrue(matches("h?llo", "hello"))
        XCTAssertTrue(matches("h?llo", "hallo"))
        XCTAssertFalse(matches("h?llo", "hllo"))
        XCTAssertFalse(matches("h?llo", "heello"))

        XCTAssertTrue(matches("h[ae]llo", "hello"))
        XCTAssertTrue(matches("h[ae]llo", "hallo"))
        XCTAssertFalse(matches("h[ae]llo", "hillo"))
        XCTAssertTrue(matches("h[^e]llo", "hallo"))
        XCTAssertFalse(matches("h[^e]llo", "hello"))
        XCTAssertTrue(matches("h[a-b]llo", "hbllo"))
        XCTAssertFalse(matches("h[a-b]llo", "hcllo"))

        XCTAssertTrue(matches("[a-c]", "a"))
        XCTAssertTrue(matches("[a-c]", "b"))
        XCTAssertTrue(matches("[a-c]", "c"))
        XCTAssertFalse(matches("[a-c]", "d"))
        XCTAssertFalse(matches("[a-c]", "ab"))
        XCTAssertTrue(matches("[c-a]", "b"), "a reversed range is swapped, as Redis does")
        XCTAssertTrue(matches("[^a]", "b"))
        XCTAssertFalse(matches("[^a]", "a"))
        XCTAssertFalse(matches("[^a]", ""))
        XCTAssertTrue(matches("[\\]]", "]"), "an escaped ] in a class")

        XCTAssertTrue(matches("\\*", "*"))
        XCTAssertFalse(matches("\\*", "x"))
        XCTAssertFalse(matches("\\*", ""))
        XCTAssertTrue(matches("a\\?", "a?"))
        XCTAssertFalse(matches("a\\?", "ab"))
        XCTAssertTrue(matches("a\\", "a\\"), "a trailing backslash is itself")
    }

    /// An unclosed `[` is taken as the character `[`.
    func testUnclosedBracketIsLiteral() {
        func matches(_ pattern: String, _ key: String) -> Bool { RedisGlob.matches(bytes(pattern), bytes(key)) }
        XCTAssertTrue(matches("a[b", "a[b"))
        XCTAssertFalse(matches("a[b", "ab"))
        XCTAssertTrue(matches("[", "["))
        XCTAssertFalse(matches("[", "x"))
        XCTAssertTrue(matches("key[*", "key[1]"))
    }
}
