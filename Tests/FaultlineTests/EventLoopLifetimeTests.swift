import Logging
import XCTest
@testable import Faultline

/// Objects whose events live on a loop keep the loop alive until they have freed them, in
/// whatever order their owners let go. A release build of `faultline serve` released the loop
/// before the API server's timers and trapped in their deinit ("Attempted to read an unowned
/// reference") on every SIGTERM; a debug build kept the loop by chance.
final class EventLoopLifetimeTests: XCTestCase {
    func testATimerKeepsItsLoop() throws {
        var loop: EventLoop? = try EventLoop()
        weak var weakLoop = loop
        var timer: Faultline.Timer? = try XCTUnwrap(loop.map { Faultline.Timer(loop: $0) {} })
        timer?.schedule(after: .seconds(60))
        loop = nil
        guard weakLoop != nil else {
            // Freeing the timer now would touch the freed event base: keep it, and fail.
            _ = timer.map { Unmanaged.passRetained($0) }
            return XCTFail("the loop was freed while a timer still had its event on it")
        }
        timer = nil
        XCTAssertNil(weakLoop, "the loop goes with the last object on it")
    }

    func testTheAPIServerKeepsItsLoop() throws {
        var loop: EventLoop? = try EventLoop()
        weak var weakLoop = loop
        var server: APIServer? = try APIServer(address: try SocketAddress(parsing: "127.0.0.1:0"), loop: try XCTUnwrap(loop),
                                               log: Logger(label: "test")) { _ in .response(.empty()) }
        loop = nil
        guard weakLoop != nil else {
            _ = server.map { Unmanaged.passRetained($0) }
            return XCTFail("the loop was freed while the API server still had its listener on it")
        }
        server = nil
        XCTAssertNil(weakLoop, "the loop goes with the last object on it")
    }
}
