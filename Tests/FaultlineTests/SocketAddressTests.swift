import Faultline
import XCTest

final class SocketAddressTests: XCTestCase {
    func testIPv4AndIPv6Literals() throws {
        let v4 = try SocketAddress(parsing: "127.0.0.1:6379")
        XCTAssertEqual(v4.description, "127.0.0.1:6379")
        XCTAssertEqual(v4.port, 6379)
        let v6 = try SocketAddress(parsing: "[::1]:16379")
        XCTAssertEqual(v6.description, "[::1]:16379")
        XCTAssertEqual(v6.host, "::1")
    }

    func testNamesResolve() throws {
        XCTAssertEqual(try SocketAddress(parsing: "localhost:80").port, 80)
    }

    func testErrorsSayWhatIsWrong() {
        let cases = [
            "6379": "invalid address '6379': expected host:port (IPv6 as [::1]:port)",
            "127.0.0.1:99999": "invalid address '127.0.0.1:99999': port '99999' is not a number from 0 to 65535",
            "::1:80": "invalid address '::1:80': write IPv6 addresses in brackets, as [::1]:port",
            "[::1]80": "invalid address '[::1]80': expected [IPv6]:port",
            "127.0.0.1:": "invalid address '127.0.0.1:': port '' is not a number from 0 to 65535",
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try SocketAddress(parsing: text), text) { XCTAssertEqual("\($0)", message) }
        }
    }

    /// An upstream port goes from 1: the range in the message must not offer 0.
    func testUpstreamPortErrorsGiveTheUpstreamRange() {
        XCTAssertThrowsError(try SocketAddress(parsingUpstream: "127.0.0.1:70000")) {
            XCTAssertEqual("\($0)", "invalid address '127.0.0.1:70000': port '70000' is not a number from 1 to 65535")
        }
    }
}
