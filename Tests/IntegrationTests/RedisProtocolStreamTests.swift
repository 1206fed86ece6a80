import Foundation
import XCTest

/// What changes how replies are read — RESP3 (HELLO 3 with AUTH), client-side tracking pushes,
/// pub/sub under RESP2 and RESP3, MONITOR, MULTI/EXEC, blocking BLPOP — passes through
/// `--protocol redis` while faults on other commands stay active and answer in place.
final class RedisProtocolStreamTests: RedisProtocolCase {
    func testRESP3TrackingPushArrivesAndInjectedErrorKeepsItsPlace() throws {
        try checkRESP3Tracking(tls: false)
    }

    func testRESP3PubSubPushesAndInjectedErrorInOrder() throws {
        try checkRESP3PubSub(tls: false)
    }

    func testPubSubMonitorTransactionAndBlockingPopPass() throws {
        try checkStreamsAndTransactions(tls: false)
    }

    /// A command a fault answers inside MULTI gets the error where QUEUED would be, and
    /// redis-server never sees it: EXEC runs the commands it did queue. (A real Redis that
    /// refuses a command while queueing flags the transaction and EXEC answers EXECABORT; the
    /// refused command never reaching it, here EXEC succeeds.)
    func testInjectedErrorInsideMultiIsAnsweredInPlaceOfQueued() throws {
        try checkInjectedErrorInsideMulti(tls: false)
    }

    /// RESP2 SUBSCRIBE turns the connection into a stream: from then on faults no longer act on
    /// its commands (Redis's own refusal of DECR in subscribed mode comes through, not OOM).
    func testRESP2SubscribedConnectionPassesAsAStream() throws {
        let proxy = try startProxy(Self.otherFaults)
        let subscriber = try authenticated(port: proxy.port)
        XCTAssertEqual(try subscriber.call("SUBSCRIBE", "news"), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n")
        XCTAssertEqual(try direct("PUBLISH", "news", "hi"), ":1\r\n")
        XCTAssertEqual(try subscriber.replyText(), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n")
        XCTAssertEqual(try subscriber.call("PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        XCTAssertEqual(try subscriber.call("DECR", "counter"),
                       "-ERR Can't execute 'decr': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")
    }

    /// HELLO changes how the next replies read even while it is unanswered: HELLO 3 AUTH and
    /// SUBSCRIBE pipelined make SUBSCRIBE's answer a push (the connection stays one reply per
    /// command, DECR still meets OOM); HELLO 2 and SUBSCRIBE pipelined turn it into a RESP2
    /// stream (DECR then meets Redis's refusal, not the fault).
    func testHelloPipelinedWithSubscribeSwitchesHowRepliesRead() throws {
        let proxy = try startProxy(Self.otherFaults)
        let resp3 = try raw(port: proxy.port)
        try resp3.send(resp("HELLO", "3", "AUTH", "default", Self.password) + resp("SUBSCRIBE", "news") + resp("DECR", "counter")
                       + resp("PING"))
        XCTAssertTrue(try resp3.replyText().hasPrefix("%7\r\n"))
        XCTAssertEqual(try resp3.replyText(), ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n")
        XCTAssertEqual(try resp3.replyText(), Self.oom)
        XCTAssertEqual(try resp3.replyText(), "+PONG\r\n")

        let resp2 = try raw(port: proxy.port)
        XCTAssertTrue(try resp2.call("HELLO", "3", "AUTH", "default", Self.password).hasPrefix("%7\r\n"))
        try resp2.send(resp("HELLO", "2") + resp("SUBSCRIBE", "news") + resp("DECR", "counter"))
        XCTAssertTrue(try resp2.replyText().hasPrefix("*14\r\n"), "HELLO 2 answers in RESP2")
        XCTAssertEqual(try resp2.replyText(), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n")
        XCTAssertEqual(try resp2.replyText(),
                       "-ERR Can't execute 'decr': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")
        XCTAssertEqual(try direct("PUBLISH", "news", "both"), ":2\r\n")
        XCTAssertEqual(try resp3.replyText(), ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$4\r\nboth\r\n")
        XCTAssertEqual(try resp2.replyText(), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$4\r\nboth\r\n")
    }

    /// (UN)SUBSCRIBE gets one answer per channel it names (one when it names none): under RESP3
    /// as pushes, which come before the answers of the commands after it, faultline's included;
    /// under RESP2 (not subscribed yet) as one array each. Compared with redis-server itself.
    func testSubscriptionAnswersComeBeforeLaterCommandsAnswers() throws {
        let proxy = try startProxy(Self.otherFaults)
        let cases: [(name: String, hello: Bool, commands: [UInt8])] = [
            ("RESP3 SUBSCRIBE a b", true, resp("SUBSCRIBE", "a", "b") + resp("DECR", "c") + resp("PING")),
            ("RESP3 UNSUBSCRIBE", true, resp("UNSUBSCRIBE") + resp("PING") + resp("DECR", "c")),
            ("RESP3 PUNSUBSCRIBE x y", true, resp("PUNSUBSCRIBE", "x", "y") + resp("DECR", "c") + resp("PING")),
            ("RESP2 UNSUBSCRIBE a b", false, resp("UNSUBSCRIBE", "a", "b") + resp("DECR", "c") + resp("PING")),
        ]
        for (name, hello, commands) in cases {
            var replies: [String: [String]] = [:]
            for port in [redisPort, proxy.port] {
                let connection = try raw(port: port)
                if hello {
                    XCTAssertTrue(try connection.call("HELLO", "3", "AUTH", "default", Self.password).hasPrefix("%7"))
                } else {
                    XCTAssertEqual(try connection.call("AUTH", Self.password), "+OK\r\n")
                }
                try connection.send(commands)
                var got: [String] = []
                for _ in 0..<(name.hasSuffix(" b") || name.hasSuffix(" y") ? 4 : 3) {
                    got.append((try? connection.replyText(timeout: 2)) ?? "nothing within 2 s")
                }
                replies[port == redisPort ? "redis" : "proxy"] = got
                connection.close()
            }
            // Where redis-server answered DECR (`:-1`, `:-2`…), faultline answers OOM.
            let expected = (replies["redis"] ?? []).map { $0.hasPrefix(":-") ? Self.oom : $0 }
            XCTAssertEqual(replies["proxy"], expected, name)
        }
    }
}

extension RedisProtocolCase {
    /// Faults on commands the stream tests use only to show they still act: DECR answered OOM,
    /// ECHO held 100 ms, APPEND answered READONLY.
    static let otherFaults = ["redis.error:error=OOM,commands=DECR", "redis.delay:delay=100ms,commands=ECHO",
                              "redis.error:error=READONLY,commands=APPEND,name=readonly-append"]
    static let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

    /// HELLO 3 AUTH through the proxy, then CLIENT TRACKING ON and GET: a SET from another
    /// connection makes Redis push `invalidate`, which arrives whole; then DECR (answered OOM by
    /// faultline), GET and PING pipelined come back in order.
    func checkRESP3Tracking(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy(Self.otherFaults, tls: tls)
        XCTAssertEqual(try direct("SET", "tracked:key", "old"), "+OK\r\n", file: file, line: line)
        let connection = try raw(port: proxy.port, tls: tls)
        let hello = try connection.call("HELLO", "3", "AUTH", "default", Self.password)
        XCTAssertTrue(hello.hasPrefix("%") && hello.contains("$5\r\nproto\r\n:3\r\n"), hello, file: file, line: line)
        XCTAssertEqual(try connection.call("CLIENT", "TRACKING", "ON"), "+OK\r\n", file: file, line: line)
        XCTAssertEqual(try connection.call("GET", "tracked:key"), bulk("old"), file: file, line: line)
        XCTAssertEqual(try direct("SET", "tracked:key", "new"), "+OK\r\n", file: file, line: line)
        XCTAssertEqual(try connection.replyText(), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$11\r\ntracked:key\r\n", file: file, line: line)
        try connection.send(resp("DECR", "counter") + resp("GET", "tracked:key") + resp("PING"))
        XCTAssertEqual(try connection.replyText(), Self.oom, file: file, line: line)
        XCTAssertEqual(try connection.replyText(), bulk("new"), file: file, line: line)
        XCTAssertEqual(try connection.replyText(), "+PONG\r\n", file: file, line: line)
        XCTAssertEqual(try direct("EXISTS", "counter"), ":0\r\n", "the DECR never reached Redis", file: file, line: line)
    }

    /// RESP3 pub/sub: SUBSCRIBE is answered by a push, PUBLISH from another connection arrives as
    /// a push, and on the subscribed connection DECR still meets faultline's OOM, before PONG.
    func checkRESP3PubSub(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy(Self.otherFaults, tls: tls)
        let connection = try raw(port: proxy.port, tls: tls)
        XCTAssertTrue(try connection.call("HELLO", "3", "AUTH", "default", Self.password).hasPrefix("%"), file: file, line: line)
        XCTAssertEqual(try connection.call("SUBSCRIBE", "news"), ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n", file: file, line: line)
        XCTAssertEqual(try direct("PUBLISH", "news", "hi"), ":1\r\n", file: file, line: line)
        XCTAssertEqual(try connection.replyText(), ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n", file: file, line: line)
        try connection.send(resp("DECR", "counter") + resp("ECHO", "held") + resp("PING"))
        XCTAssertEqual(try connection.replyText(), Self.oom, file: file, line: line)
        XCTAssertEqual(try connection.replyText(), bulk("held"), file: file, line: line)
        XCTAssertEqual(try connection.replyText(), "+PONG\r\n", file: file, line: line)
    }

    /// redis-py through a proxy with faults on other commands: pub/sub under RESP2 and RESP3
    /// (the message arrives), MONITOR (sees a SET made on another connection), MULTI/EXEC
    /// (pipeline(transaction=True)), and BLPOP blocking until an LPUSH one second later.
    func checkStreamsAndTransactions(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy(Self.otherFaults, tls: tls)
        for resp in [["--resp", "2"], []] {
            let pubsub = try pythonOne("pubsub", port: proxy.port, tls: tls, resp, file: file, line: line)
            XCTAssertEqual(pubsub["confirmation"] as? [AnyHashable], ["subscribe", "news", 1], "\(resp)", file: file, line: line)
            XCTAssertEqual(pubsub["receivers"] as? Int, 1, "\(resp)", file: file, line: line)
            XCTAssertEqual(pubsub["message"] as? [String], ["message", "news", "hello through faultline"], "\(resp)", file: file, line: line)
        }
        let monitor = try pythonOne("monitor", port: proxy.port, tls: tls, file: file, line: line)
        XCTAssertEqual(monitor["command"] as? String, "SET monitored:key seen", file: file, line: line)
        let multi = try pythonOne("multi", port: proxy.port, tls: tls, file: file, line: line)
        XCTAssertEqual(multi["results"] as? [String], ["True", "2", "b'2'"], file: file, line: line)
        let blpop = try pythonOne("blpop", port: proxy.port, tls: tls, ["--wait", "1"], file: file, line: line)
        XCTAssertEqual(blpop["popped"] as? [String], ["queue", "job-1"], file: file, line: line)
        let waited = blpop["seconds"] as? Double ?? 0
        XCTAssertTrue(waited >= 0.95 && waited < 4, "BLPOP answered after \(waited) s", file: file, line: line)
    }

    func checkInjectedErrorInsideMulti(tls: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let proxy = try startProxy(Self.otherFaults, tls: tls)
        let connection = try authenticated(port: proxy.port, tls: tls, file: file, line: line)
        XCTAssertEqual(try connection.call("MULTI"), "+OK\r\n", file: file, line: line)
        XCTAssertEqual(try connection.call("APPEND", "multi:log", "x"), "-READONLY You can't write against a read only replica.\r\n",
                       file: file, line: line)
        XCTAssertEqual(try connection.call("INCR", "multi:counter"), "+QUEUED\r\n", file: file, line: line)
        XCTAssertEqual(try connection.call("EXEC"), "*1\r\n:1\r\n", file: file, line: line)
        XCTAssertEqual(try direct("EXISTS", "multi:log"), ":0\r\n", "the APPEND never reached Redis", file: file, line: line)
    }
}
