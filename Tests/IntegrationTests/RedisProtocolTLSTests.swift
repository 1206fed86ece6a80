import Foundation
import XCTest

/// The Redis protocol tests again with faultline terminating TLS toward the client (profile
/// valid for localhost and 127.0.0.1, trusted through its CA): redis-cli --tls --cacert,
/// redis-py ssl=True with ssl_ca_certs and hostname checks, raw RESP over OpenSSL.
final class RedisProtocolTLSTests: RedisProtocolCase {
    func testAuthRejectionOverTLS() throws {
        try checkRedisCLIRejectedThenAccepted(tls: true)
        try checkRedisPyRejectedThenAccepted(tls: true)
        try checkWrongpassPreset(tls: true)
    }

    func testPipelinesKeepReplyOrderOverTLS() throws {
        try checkRedisPyPipeline(tls: true)
        try checkRawSplitPipeline(tls: true)
    }

    func testSixteenMegabyteValueOverTLS() throws {
        try checkBigValue(tls: true)
    }

    func testStreamsAndTransactionsOverTLS() throws {
        try checkRESP3Tracking(tls: true)
        try checkRESP3PubSub(tls: true)
        try checkStreamsAndTransactions(tls: true)
        try checkInjectedErrorInsideMulti(tls: true)
    }

    func testGarbageOverTLS() throws {
        try checkGarbage(tls: true)
        try checkHugeDeclarations(tls: true)
    }

    /// redis.close over TLS: the replies owed arrive, then how=fin ends with close_notify, as
    /// redis-server over TLS closes a connection, and how=rst with the RST alone; redis-py says
    /// "Connection closed by server." for fin, and for rst the same or the reset, depending on
    /// whether OpenSSL met the RST while reading ahead (it then reports a bare EOF).
    func testCloseOverTLS() throws {
        for how in ["fin", "rst"] {
            let proxy = try startProxy(["redis.close:commands=GET,how=\(how)"], tls: true)
            let result = try pythonOne("call", port: proxy.port, tls: true, ["--resp", "2", "--command", "GET", "k"])
            XCTAssertEqual(result["error"] as? String, "ConnectionError", "\(how): \(result)")
            let texts = ["Connection closed by server."]
                + (how == "rst" ? ["Error while reading from 127.0.0.1:\(proxy.port) : (104, 'Connection reset by peer')"] : [])
            XCTAssertTrue(texts.contains(result["message"] as? String ?? ""), "\(how): \(result)")
            let connection = try authenticated(port: proxy.port, tls: true)
            try connection.send(resp("PING") + resp("GET", "k"))
            let (bytes, end) = connection.readToEnd(timeout: 5)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "+PONG\r\n", how)
            XCTAssertTrue(how == "fin" ? end == "close_notify" : ["EOF", "RST"].contains(end), "\(how): \(end)")
            assertNoLibeventWarnings(proxy)
        }
    }

    /// On a TLS proxy the maxclients error comes after the handshake, so a TLS client reads it:
    /// redis-py over TLS raises ConnectionError("max number of clients reached").
    func testMaxClientsAfterTheHandshake() throws {
        let proxy = try startProxy(["redis.max_clients:first=1"], tls: true)
        let turnedAway = try pythonOne("call", port: proxy.port, tls: true, ["--resp", "2", "--command", "PING"])
        XCTAssertEqual(turnedAway["error"] as? String, "ConnectionError", "\(turnedAway)")
        XCTAssertEqual(turnedAway["message"] as? String, "max number of clients reached")
        let next = try pythonOne("call", port: proxy.port, tls: true, ["--resp", "2", "--command", "PING"])
        XCTAssertEqual(next["value"] as? String, "True", "\(next)")
    }
}
