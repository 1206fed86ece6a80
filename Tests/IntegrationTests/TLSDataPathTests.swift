import Foundation
import Glibc
import XCTest

/// Bytes through TLS legs: 64 MB each way at once (SHA-256 compared), half-closes, a client's
/// reset, bytes that are not TLS on a TLS port, and 200 TLS clients at once.
final class TLSDataPathTests: TLSIntegrationCase {
    private static let size = 64 << 20

    /// The bundle a TLS upstream presents (valid, for localhost and 127.0.0.1).
    private func upstreamContext() throws -> (TLSContext, CertificateBundleFiles) {
        let bundle = try workspace.certs(profile: "valid", hosts: ["localhost", "127.0.0.1"], out: "upstream")
        return (try TLSContext.server(chain: bundle.cert, key: bundle.key), bundle)
    }

    private func clientContext() throws -> TLSContext { try TLSContext.client(caFile: workspace.root) }

    // MARK: 64 MB each way

    /// TLS toward the client and toward the upstream: both legs decrypt and re-encrypt.
    func testBothLegsTLSKeepEveryByteBothWays() throws {
        let (context, bundle) = try upstreamContext()
        let upstream = try TLSUpstream(context: context)
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid", "--upstream-tls",
                                                                         "--upstream-ca", bundle.ca, "--upstream-sni", "localhost"])
        // The upstream sends its stream and then close_notify (its half-close), reading on
        // until the client's end arrives.
        let served = upstream.serve { stream in
            stream.duplex(sending: Pattern(seed: 2), count: Self.size, afterSending: { $0.sendCloseNotify() })
        }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        let started = monotonicSeconds()
        let clientSide = client.duplex(sending: Pattern(seed: 1), count: Self.size, afterSending: { $0.shutdownWrite() })
        let elapsed = monotonicSeconds() - started
        client.close()
        let upstreamSide = try served.join(timeout: 60)
        print("TLS both legs: 64 MB each way in \(String(format: "%.2f", elapsed)) s; client's read ended with "
              + "\(clientSide.received.end), upstream's with \(upstreamSide.received.end)")
        assertTransfer(client: clientSide, upstream: upstreamSide)
        // Both ends sent close_notify: each must reach the other as an orderly TLS close.
        XCTAssertEqual(clientSide.received.end, .closeNotify, "the upstream's close_notify should reach the client as one")
        XCTAssertEqual(upstreamSide.received.end, .closeNotify, "the client's close_notify should reach the upstream as one")
        XCTAssertEqual(warnings(proxy), [])
        XCTAssertTrue(proxy.process.isRunning)
    }

    /// TLS toward the client, a plain upstream that sends its own stream while it reads.
    func testClientLegTLSKeepsEveryByteBothWays() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid"])
        let served = upstream.serve { fd -> (sent: StreamDigest, received: Reception) in
            let sender = Worker("upstream sender") { () throws -> StreamDigest in
                let digest = try Pattern(seed: 2).send(to: fd, count: Self.size)
                Sock.shutdownWrite(fd)
                return digest
            }
            let received = receiveAll(fd)
            return (try sender.join(timeout: 60), received)
        }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        let started = monotonicSeconds()
        let clientSide = client.duplex(sending: Pattern(seed: 1), count: Self.size, afterSending: { $0.shutdownWrite() })
        let elapsed = monotonicSeconds() - started
        client.close()
        let (upstreamSent, upstreamReceived) = try served.join(timeout: 60)
        print("TLS client leg, plain upstream: 64 MB each way in \(String(format: "%.2f", elapsed)) s; client's read ended with "
              + "\(clientSide.received.end)")
        XCTAssertNil(clientSide.sendError)
        XCTAssertEqual(clientSide.sent.count, Self.size)
        XCTAssertEqual(upstreamSent.count, Self.size)
        XCTAssertEqual(upstreamReceived.digest, clientSide.sent, "client → upstream bytes differ")
        XCTAssertEqual(clientSide.received.digest, upstreamSent, "upstream → client bytes differ")
        XCTAssertEqual(upstreamReceived.end, .eof, "the client's close_notify + FIN should reach the upstream as a FIN")
        XCTAssertEqual(clientSide.received.end, .closeNotify, "the upstream's FIN should reach the client as close_notify")
        XCTAssertTrue(proxy.process.isRunning)
    }

    private func assertTransfer(client: (sent: StreamDigest, received: TLSReception, sendError: String?),
                                upstream: (sent: StreamDigest, received: TLSReception, sendError: String?),
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(client.sendError, file: file, line: line)
        XCTAssertNil(upstream.sendError, file: file, line: line)
        XCTAssertEqual(client.sent.count, Self.size, file: file, line: line)
        XCTAssertEqual(upstream.sent.count, Self.size, file: file, line: line)
        XCTAssertEqual(upstream.received.digest, client.sent, "client → upstream bytes differ", file: file, line: line)
        XCTAssertEqual(client.received.digest, upstream.sent, "upstream → client bytes differ", file: file, line: line)
    }

    // MARK: Half-close

    /// The client shuts down writing (close_notify, then FIN) and still receives everything
    /// the plain upstream sends after it saw the client's end.
    func testHalfCloseToPlainUpstream() throws {
        try halfCloseToPlainUpstream(finToo: true)
    }

    /// close_notify alone (the socket stays open both ways) is the client's end of writing too.
    func testCloseNotifyAloneHalfClosesToPlainUpstream() throws {
        try halfCloseToPlainUpstream(finToo: false)
    }

    private func halfCloseToPlainUpstream(finToo: Bool) throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid", "--log-level", "debug"])
        let request = 1 << 20
        let rest = 3 << 20
        let served = upstream.serve { fd -> (received: Reception, sent: StreamDigest) in
            let received = receiveAll(fd)  // to the client's end
            let sent = try Pattern(seed: 9).send(to: fd, count: rest)
            return (received, sent)  // then the socket closes: FIN
        }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        defer { client.close() }
        let clientSide = client.duplex(sending: Pattern(seed: 8), count: request, timeout: 20,
                                       afterSending: { finToo ? $0.shutdownWrite() : $0.sendCloseNotify() })
        let (upstreamReceived, upstreamSent) = try served.join(timeout: 20)
        XCTAssertEqual(upstreamReceived.end, .eof, "the upstream should see the client's half-close as a FIN")
        XCTAssertEqual(upstreamReceived.digest, clientSide.sent, "client → upstream bytes differ")
        XCTAssertEqual(clientSide.received.digest, upstreamSent, "the bytes sent after the client's half-close differ")
        XCTAssertEqual(clientSide.received.digest.count, rest)
        XCTAssertEqual(clientSide.received.end, .closeNotify, "the upstream's FIN should reach the client as close_notify")
        XCTAssertTrue(proxy.process.isRunning)
    }

    /// Both legs TLS: the client's close_notify reaches the upstream as close_notify, and
    /// the upstream's answer after it still reaches the client.
    func testHalfCloseThroughBothTLSLegs() throws {
        let (context, bundle) = try upstreamContext()
        let upstream = try TLSUpstream(context: context)
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid", "--upstream-tls",
                                                                         "--upstream-ca", bundle.ca, "--upstream-sni", "localhost"])
        let rest = 3 << 20
        let served = upstream.serve { stream -> (received: [UInt8], end: TLSEnd, sent: StreamDigest) in
            let (received, end) = stream.readToEnd(timeout: 20)
            let answer = stream.duplex(sending: Pattern(seed: 9), count: rest, timeout: 20, afterSending: { $0.shutdownWrite() })
            return (received, end, answer.sent)
        }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        defer { client.close() }
        try client.write(Array("the whole request\n".utf8))
        client.shutdownWrite()
        let clientSide = client.duplex(sending: Pattern(seed: 0), count: 0, timeout: 20)
        let upstreamSide = try served.join(timeout: 20)
        XCTAssertEqual(String(decoding: upstreamSide.received, as: UTF8.self), "the whole request\n")
        XCTAssertEqual(upstreamSide.end, .closeNotify, "the client's close_notify should reach the upstream as one")
        XCTAssertEqual(clientSide.received.digest, upstreamSide.sent, "the bytes sent after the client's half-close differ")
        XCTAssertEqual(clientSide.received.end, .closeNotify)
        XCTAssertTrue(proxy.process.isRunning)
    }

    /// The upstream half-closes first (a greeting, then close_notify): the client gets the
    /// greeting and the close, and what it sends afterwards still reaches the upstream.
    func testUpstreamHalfClosesFirstThroughBothTLSLegs() throws {
        let (context, bundle) = try upstreamContext()
        let upstream = try TLSUpstream(context: context)
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid", "--upstream-tls", "--log-level", "debug",
                                                                         "--upstream-ca", bundle.ca, "--upstream-sni", "localhost"])
        let served = upstream.serve { stream -> TLSReception in
            try stream.write(Array("greeting\n".utf8))
            stream.sendCloseNotify()
            return stream.duplex(sending: Pattern(seed: 0), count: 0, timeout: 20).received
        }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        defer { client.close() }
        let (greeting, end) = client.readToEnd(timeout: 10)
        XCTAssertEqual(String(decoding: greeting, as: UTF8.self), "greeting\n")
        XCTAssertEqual(end, .closeNotify, "the upstream's close_notify should reach the client as one")
        let clientSide = client.duplex(sending: Pattern(seed: 6), count: 2 << 20, timeout: 20, afterSending: { $0.shutdownWrite() })
        XCTAssertNil(clientSide.sendError, "the client could not send after the upstream's half-close")
        let received = try served.join(timeout: 20)
        XCTAssertEqual(received.digest, clientSide.sent, "what the client sent after the upstream's half-close differs")
        XCTAssertEqual(received.end, .closeNotify)
    }

    /// The same with a plain upstream that sends a greeting and a FIN, then reads on.
    func testUpstreamHalfClosesFirstToTLSClient() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid", "--log-level", "debug"])
        let served = upstream.serve { fd -> Reception in
            try Sock.sendAll(fd, Array("greeting\n".utf8))
            Sock.shutdownWrite(fd)
            return receiveAll(fd)
        }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        defer { client.close() }
        let (greeting, end) = client.readToEnd(timeout: 10)
        XCTAssertEqual(String(decoding: greeting, as: UTF8.self), "greeting\n")
        XCTAssertEqual(end, .closeNotify, "the upstream's FIN should reach the client as close_notify")
        let clientSide = client.duplex(sending: Pattern(seed: 6), count: 2 << 20, timeout: 20, afterSending: { $0.shutdownWrite() })
        XCTAssertNil(clientSide.sendError, "the client could not send after the upstream's half-close")
        let received = try served.join(timeout: 20)
        XCTAssertEqual(received.digest, clientSide.sent, "what the client sent after the upstream's half-close differs")
        XCTAssertEqual(received.end, .eof)
    }

    // MARK: Reset

    /// The client resets its connection in the middle of sending: the plain upstream's
    /// connection is reset too, not closed as if the stream were complete.
    func testClientResetMidTransferResetsPlainUpstream() throws {
        let upstream = try ScriptedUpstream()
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid"])
        let upstreamGot = Locked(0)
        let served = upstream.serve { fd in receiveAll(fd) { total in upstreamGot.update { $0 = total } } }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        let clientSide = client.duplex(sending: Pattern(seed: 3), count: Self.size, timeout: 20,
                                       progress: { _, _ in upstreamGot.current < 4 << 20 })
        XCTAssertLessThan(clientSide.sent.count, Self.size, "the client should still be sending when it resets")
        client.reset()
        let received = try served.join(timeout: 20)
        XCTAssertEqual(received.end, .failed(ECONNRESET), "the upstream should meet an RST, after \(received.digest.count) bytes")
        XCTAssertGreaterThanOrEqual(received.digest.count, 4 << 20)
        XCTAssertTrue(proxy.process.isRunning)
    }

    /// The same with TLS toward the upstream: the upstream's TLS stream ends in an RST.
    func testClientResetMidTransferResetsTLSUpstream() throws {
        let (context, bundle) = try upstreamContext()
        let upstream = try TLSUpstream(context: context)
        defer { upstream.close() }
        let proxy = try workspace.startProxy(upstream: upstream.address, ["--tls-profile", "valid", "--upstream-tls",
                                                                         "--upstream-ca", bundle.ca, "--upstream-sni", "localhost"])
        let upstreamGot = Locked(0)
        let served = upstream.serve { stream in
            stream.duplex(sending: Pattern(seed: 4), count: 0, timeout: 20, progress: { _, received in
                upstreamGot.update { $0 = received }
                return true
            })
        }
        let client = try TLSStream.connect(port: proxy.port, context: try clientContext())
        _ = client.duplex(sending: Pattern(seed: 3), count: Self.size, timeout: 20,
                          progress: { _, _ in upstreamGot.current < 4 << 20 })
        client.reset()
        let upstreamSide = try served.join(timeout: 20)
        XCTAssertEqual(upstreamSide.received.end, .reset, "the upstream should meet an RST, after \(upstreamSide.received.digest.count) bytes")
        XCTAssertGreaterThanOrEqual(upstreamSide.received.digest.count, 4 << 20)
        XCTAssertTrue(proxy.process.isRunning)
    }

    // MARK: Not TLS

    /// An HTTP request and a plain redis-cli on a TLS port: each is logged as not TLS and
    /// closed with a FIN, never reaches the upstream, and a TLS client right after works.
    func testBytesThatAreNotTLSAreRefusedAndTheProxyServesOn() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try workspace.startProxy(upstream: "127.0.0.1:\(echo.port)", ["--tls-profile", "valid"])

        let raw = try Sock.connect(port: proxy.port, timeout: 5)
        try Sock.sendAll(raw, Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        let (count, end) = Sock.ending(raw)
        Sock.close(raw)
        XCTAssertEqual(count, 0, "the proxy answered an HTTP request on a TLS port with \(count) bytes")
        XCTAssertEqual(end, .eof)
        XCTAssertTrue(waitForLog(proxy, "client sent something other than TLS to a TLS port: not TLS (http request); closing it"),
                      proxy.process.stderrText)
        XCTAssertTrue(proxy.process.stderrText.contains(" warning faultline: link=1 proxy=proxy [Faultline] client sent something other than TLS"),
                      "logged at warning: \(proxy.process.stderrText)")

        let cli = try TLSTools.require("redis-cli", package: "redis-tools")
        let plain = try run(cli, ["-h", "127.0.0.1", "-p", "\(proxy.port)", "ping"], timeout: 10)
        XCTAssertEqual(plain.ended, .exited(1), plain.stdout + plain.stderr)
        XCTAssertEqual(plain.stdout + plain.stderr, "Error: Server closed the connection\n")
        XCTAssertTrue(waitForLog(proxy, "client sent something other than TLS to a TLS port: not TLS (wrong version number); closing it"),
                      proxy.process.stderrText)

        let python = try pythonConnection(port: proxy.port, ["--cafile", workspace.root])
        XCTAssertTrue(python.completed, "\(python)")
        XCTAssertEqual(python.received, "hello through TLS\n")
        XCTAssertEqual(echo.accepted.current, 1, "only the TLS client should reach the upstream")
        XCTAssertEqual(warnings(proxy).count, 2, "one warning per client that was not TLS: \(warnings(proxy))")
        XCTAssertTrue(proxy.process.isRunning)
    }

    // MARK: Many at once

    /// 200 Python TLS clients released at once: every handshake completes and every echo
    /// comes back.
    func testTwoHundredTLSClientsAtOnce() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try workspace.startProxy(upstream: "127.0.0.1:\(echo.port)", ["--tls-profile", "valid"])
        let lines = try pythonClient(["--port", "\(proxy.port)", "--cafile", workspace.root, "--count", "200",
                                      "--parallel", "200", "--timeout", "20"], timeout: 60)
        let summary = try XCTUnwrap(lines.last?["summary"] as? [String: Any], "\(lines)")
        XCTAssertEqual(summary["done"] as? Int, 200, "\(summary)")
        XCTAssertEqual(summary["failed"] as? Int, 0, "\(summary)")
        print("200 TLS clients at once: \(summary["seconds"] ?? "?") s, slowest handshake \(summary["max_handshake_seconds"] ?? "?") s, "
              + "\(echo.peakOpen.current) open at once upstream")
        XCTAssertEqual(echo.accepted.current, 200)
        XCTAssertEqual(warnings(proxy), [])
        XCTAssertTrue(proxy.process.isRunning)
    }
}
