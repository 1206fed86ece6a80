import Faultline
import XCTest

/// Which upstreams would connect a proxy to its own listener (`SocketAddress.reaches`).
final class SelfLoopAddressTests: XCTestCase {
    private func reaches(_ upstream: String, _ listen: String) throws -> Bool {
        try SocketAddress(parsing: upstream).reaches(listener: SocketAddress(parsing: listen))
    }

    func testTheSameAddressLiterallyOrByName() throws {
        XCTAssertTrue(try reaches("127.0.0.1:7000", "127.0.0.1:7000"))
        XCTAssertTrue(try reaches("localhost:7000", "127.0.0.1:7000"))
        XCTAssertTrue(try reaches("[::1]:7000", "[::1]:7000"))
    }

    func testAWildcardListenCoversEveryLocalAddress() throws {
        XCTAssertTrue(try reaches("127.0.0.1:7000", "0.0.0.0:7000"))
        XCTAssertTrue(try reaches("127.0.0.2:7000", "0.0.0.0:7000"), "Linux answers all of 127/8 locally")
        XCTAssertTrue(try reaches("0.0.0.0:7000", "0.0.0.0:7000"), "connecting to 0.0.0.0 reaches this host")
        XCTAssertTrue(try reaches("0.0.0.0:7000", "127.0.0.1:7000"))
        XCTAssertTrue(try reaches("[::1]:7000", "[::]:7000"))
    }

    func testOtherPortsFamiliesAndHostsAreNoLoop() throws {
        XCTAssertFalse(try reaches("127.0.0.1:7001", "127.0.0.1:7000"))
        XCTAssertFalse(try reaches("127.0.0.2:7000", "127.0.0.1:7000"), "a listener on 127.0.0.1 does not get 127.0.0.2")
        XCTAssertFalse(try reaches("127.0.0.1:7000", "[::]:7000"), "IPv6 listeners are IPv6-only")
        XCTAssertFalse(try reaches("[::1]:7000", "0.0.0.0:7000"))
        XCTAssertFalse(try reaches("192.0.2.77:7000", "0.0.0.0:7000"), "not an address of this host")
        XCTAssertFalse(try reaches("127.0.0.1:0", "127.0.0.1:0"), "port 0 listens on a port the kernel picks")
    }
}
