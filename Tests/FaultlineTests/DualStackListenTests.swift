import Glibc
import Logging
import XCTest
@testable import Faultline

/// `[::]:P` listens on every address, IPv4 too, as Go's listeners (Toxiproxy's) do: the usual
/// container config `"listen":"[::]:5673"` must take IPv4 clients. `[::1]:P` stays IPv6-only.
final class DualStackListenTests: XCTestCase {
    func testUnspecifiedIPv6TakesIPv4ClientsAndLoopbackIPv6DoesNot() throws {
        let loop = try EventLoop()
        let any = Proxy(name: "any", listen: try SocketAddress(parsing: "[::]:0"), upstream: try SocketAddress(parsing: "127.0.0.1:9"),
                        loop: loop, logger: Logger(label: "test"))
        try any.start()
        let port = try XCTUnwrap(any.listenAddress?.port)
        XCTAssertTrue(try connects(to: "127.0.0.1", port: port), "an IPv4 client reaches [::]:\(port)")
        let six = Proxy(name: "six", listen: try SocketAddress(parsing: "[::1]:0"), upstream: try SocketAddress(parsing: "127.0.0.1:9"),
                        loop: loop, logger: Logger(label: "test"))
        try six.start()
        let sixPort = try XCTUnwrap(six.listenAddress?.port)
        XCTAssertFalse(try connects(to: "127.0.0.1", port: sixPort), "[::1]:\(sixPort) is IPv6-only")
        any.disable()
        six.disable()
    }

    /// A blocking connect: the kernel completes it from the listen backlog, no loop turn needed.
    private func connects(to host: String, port: UInt16) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
