import Glibc
import XCTest

/// The `faultline proxy` process as a user runs it: bind errors and exit status, IPv6.
final class CommandLineTests: IntegrationCase {
    // MARK: bind errors

    func testPortAlreadyTakenExitsTwoWithMessage() throws {
        let (holder, port) = try Sock.listen()
        defer { Sock.close(holder) }
        let child = try ChildProcess.spawn(try faultlineBinary(),
                                           ["proxy", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:9"])
        XCTAssertEqual(child.waitForExit(timeout: 3), .exited(2))
        XCTAssertTrue(child.stderrText.contains("cannot listen on 127.0.0.1:\(port): Address already in use"),
                      "stderr was:\n\(child.stderrText)")
    }

    // MARK: IPv6

    func testIPv6ListenToIPv6Upstream() throws {
        try exchange(listenHost: "::1", upstreamHost: "::1")
    }

    func testIPv4ListenToIPv6Upstream() throws {
        try exchange(listenHost: "127.0.0.1", upstreamHost: "::1")
    }

    /// 1 MB each way (request, half-close, reply) through a proxy on the given families.
    private func exchange(listenHost: String, upstreamHost: String) throws {
        guard Sock.ipv6Available else { throw XCTSkip("::1 cannot be bound here") }
        let size = 1 << 20
        let (listener, upstreamPort) = try Sock.listen(host: upstreamHost)
        defer { Sock.close(listener) }
        let upstream = Worker("upstream") { () throws -> (Reception, StreamDigest) in
            let fd = try Sock.accept(listener)
            defer { Sock.close(fd) }
            let request = receiveAll(fd)
            return (request, try Pattern(seed: 12).send(to: fd, count: size))
        }
        func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
        let proxy = try ProxyProcess.start(listen: "\(bracketed(listenHost)):0",
                                           upstream: "\(bracketed(upstreamHost)):\(upstreamPort)")
        let client = try Sock.connect(host: listenHost, port: proxy.port, timeout: 10)
        defer { Sock.close(client) }
        let request = try Pattern(seed: 11).send(to: client, count: size)
        Sock.shutdownWrite(client)
        let reply = receiveAll(client)
        let (upstreamGot, upstreamSent) = try upstream.join(timeout: 20)
        XCTAssertEqual(upstreamGot.digest, request)
        XCTAssertEqual(upstreamGot.end, .eof)
        XCTAssertEqual(reply.digest, upstreamSent)
        XCTAssertEqual(reply.digest.count, size)
        XCTAssertEqual(reply.end, .eof)
        XCTAssertEqual(proxy.process.stop(), .exited(0), "SIGTERM on an idle proxy should exit 0")
    }
}
