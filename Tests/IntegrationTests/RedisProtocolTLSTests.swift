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
