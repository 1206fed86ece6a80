import Foundation
import Glibc
import XCTest

/// What users of a Toxiproxy-compatible API rely on that Toxiproxy's own clients never check:
/// what each API call does to the data path, live, through `faultline serve`. Every test starts
/// its own serve (API on 127.0.0.1:0) and an echo upstream, creates proxies on 127.0.0.1:0, and
/// checks with plain sockets what a client of the proxy meets:
/// - a toxic added, changed or removed reaches a connection that is already open;
/// - `enabled:false` ends live connections and refuses new ones (ECONNREFUSED); enabling listens
///   again on the same port;
/// - `listen` 127.0.0.1:0 is answered with the port really bound, and that port accepts;
/// - DELETE frees the port before its reply (a server binds it right after);
/// - `/reset` during a bandwidth-limited transfer leaves the connections open at full speed;
/// - the API answers at once while 200 connections hold data in a 5 s latency toxic, removing
///   that toxic too (Toxiproxy's issues #159, #412, #558: the API hung while links drained).
final class ControlAPIDataPathTests: IntegrationCase {
    private var serve: ServeProcess!
    private var echo: EchoServer!

    override func setUpWithError() throws {
        try super.setUpWithError()
        serve = try ServeProcess.start()
        echo = try EchoServer()
    }

    override func tearDown() {
        echo?.stop()
        if let serve {
            let log = serve.process.stderrText
            let ended = serve.process.stop(grace: 5)
            XCTAssertEqual(ended, .exited(0), "faultline serve on SIGTERM; its log:\n\(log)")
        }
        super.tearDown()
    }

    // MARK: - helpers

    /// Serve's log, for failure messages.
    private var log: String { "--- faultline serve stderr\n\(serve.process.stderrText)" }

    /// `POST /proxies` listening on `listen` (127.0.0.1:0 by default) in front of the echo
    /// server; asserts 201 and returns the port the reply's `listen` names.
    private func createProxy(_ name: String, listen: String = "127.0.0.1:0",
                             file: StaticString = #filePath, line: UInt = #line) throws -> UInt16 {
        let reply = try serve.request("POST", "/proxies", json: """
            {"name":"\(name)","listen":"\(listen)","upstream":"127.0.0.1:\(echo.port)","enabled":true}
            """)
        XCTAssertEqual(reply.status, 201, "\(reply)\n\(log)", file: file, line: line)
        let port = try XCTUnwrap(Self.port(of: reply.object["listen"]), "\(reply)", file: file, line: line)
        XCTAssertNotEqual(port, 0, "\(reply)", file: file, line: line)
        return port
    }

    /// The port of a `listen` value `HOST:PORT`.
    private static func port(of listen: Any?) -> UInt16? {
        guard let text = listen as? String, let colon = text.lastIndex(of: ":") else { return nil }
        return UInt16(text[text.index(after: colon)...])
    }

    /// `POST /proxies/NAME/toxics`; asserts 200 (Toxiproxy's status for it).
    private func addToxic(_ proxy: String, _ json: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let reply = try serve.request("POST", "/proxies/\(proxy)/toxics", json: json)
        XCTAssertEqual(reply.status, 200, "\(reply)\n\(log)", file: file, line: line)
    }

    /// The errno a connect to 127.0.0.1:`port` fails with, or 0 when it connects.
    private static func connectError(_ port: UInt16) -> Int32 {
        do {
            Sock.close(try Sock.connect(port: port, timeout: 2))
            return 0
        } catch let failure as SystemCallFailure {
            return failure.code
        } catch {
            return -1
        }
    }

    /// A message of `count` bytes that differs per call (so an echo of stale bytes shows).
    private static func message(_ count: Int, tag: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ tag &* 7 &+ 1) }
    }

    private static func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }

    // MARK: - tests

    /// A toxic added while a connection is open delays that connection at once, a change to it
    /// (PATCH) too, and removing it brings the same connection back to loopback speed.
    func testToxicChangesReachAnOpenConnection() throws {
        let port = try createProxy("live_toxic")
        let fd = try Sock.connect(port: port)
        defer { Sock.close(fd) }
        let before = try Sock.roundTrip(fd, Self.message(64, tag: 1))

        try addToxic("live_toxic", #"{"name":"lat","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":300}}"#)
        let delayed = try Sock.roundTrip(fd, Self.message(64, tag: 2))

        let patch = try serve.request("PATCH", "/proxies/live_toxic/toxics/lat", json: #"{"attributes":{"latency":600}}"#)
        XCTAssertEqual(patch.status, 200, "\(patch)")
        XCTAssertEqual((patch.object["attributes"] as? [String: Any])?["latency"] as? Int, 600, "\(patch)")
        let changed = try Sock.roundTrip(fd, Self.message(64, tag: 3))

        let removal = try serve.request("DELETE", "/proxies/live_toxic/toxics/lat")
        XCTAssertEqual(removal.status, 204, "\(removal)")
        let after = try Sock.roundTrip(fd, Self.message(64, tag: 4))

        print("one connection: round trip \(Self.ms(before)) before, \(Self.ms(delayed)) with latency 300 ms, \(Self.ms(changed)) after PATCH to 600 ms, \(Self.ms(after)) after DELETE")
        XCTAssertLessThan(before, 0.1)
        XCTAssertGreaterThanOrEqual(delayed, 0.3, "the latency toxic did not reach the open connection\n\(log)")
        XCTAssertLessThan(delayed, 1.0)
        XCTAssertGreaterThanOrEqual(changed, 0.6, "the PATCH did not reach the open connection\n\(log)")
        XCTAssertLessThan(changed, 1.3)
        XCTAssertLessThan(after, 0.1, "the removed toxic still delays the open connection\n\(log)")
    }

    /// `{"enabled":false}` ends every live connection (the client reads EOF or a reset) and the
    /// port refuses connects before the reply; `{"enabled":true}` listens on the same port again
    /// (the one 127.0.0.1:0 was given) and it carries data.
    func testDisableEndsLinksAndRefusesEnableListensOnTheSamePort() throws {
        let port = try createProxy("toggled")
        let clients = try (0..<3).map { _ in try Sock.connect(port: port) }
        defer { clients.forEach(Sock.close) }
        for (index, fd) in clients.enumerated() { _ = try Sock.roundTrip(fd, Self.message(32, tag: index)) }

        let disable = try serve.request("POST", "/proxies/toggled", json: #"{"enabled":false}"#)
        XCTAssertEqual(disable.status, 200, "\(disable)")
        XCTAssertEqual(disable.object["enabled"] as? Bool, false, "\(disable)")
        let refused = Self.connectError(port)
        XCTAssertEqual(refused, ECONNREFUSED, "a connect right after the disable reply: errno \(refused)\n\(log)")
        var ends: [String] = []
        for fd in clients {
            let (bytes, end) = Sock.readUntilClosed(fd, timeout: 2)
            ends.append(end)
            XCTAssertEqual(bytes, [], "bytes after the disable")
        }
        print("disable answered in \(disable.milliseconds); live connections ended with \(ends); connect: \(String(cString: strerror(refused)))")
        XCTAssertTrue(ends.allSatisfy { $0 == "EOF" || $0 == "RST" }, "live connections after disable: \(ends)\n\(log)")

        let enable = try serve.request("POST", "/proxies/toggled", json: #"{"enabled":true}"#)
        XCTAssertEqual(enable.status, 200, "\(enable)")
        XCTAssertEqual(enable.object["enabled"] as? Bool, true, "\(enable)")
        XCTAssertEqual(Self.port(of: enable.object["listen"]), port, "enable must listen on the same port: \(enable)")
        let fd = try Sock.connect(port: port)
        defer { Sock.close(fd) }
        let trip = try Sock.roundTrip(fd, Self.message(32, tag: 9))
        XCTAssertLessThan(trip, 0.1)
        let shown = try serve.request("GET", "/proxies/toggled")
        XCTAssertEqual(shown.object["listen"] as? String, "127.0.0.1:\(port)", "\(shown)")
        XCTAssertEqual(shown.object["enabled"] as? Bool, true, "\(shown)")
    }

    /// `listen` 127.0.0.1:0 is answered with the port the kernel gave, everywhere the proxy is
    /// shown, and that port carries data; two such proxies get two ports.
    func testListenPortZeroReportsTheBoundPort() throws {
        let first = try createProxy("zero_a")
        let second = try createProxy("zero_b")
        XCTAssertNotEqual(first, second)
        let one = try serve.request("GET", "/proxies/zero_a")
        XCTAssertEqual(one.object["listen"] as? String, "127.0.0.1:\(first)", "\(one)")
        let all = try serve.request("GET", "/proxies")
        XCTAssertEqual((all.object["zero_b"] as? [String: Any])?["listen"] as? String, "127.0.0.1:\(second)", "\(all)")
        for port in [first, second] {
            let fd = try Sock.connect(port: port)
            defer { Sock.close(fd) }
            XCTAssertLessThan(try Sock.roundTrip(fd, Self.message(100, tag: Int(port))), 0.1)
        }
        print("listen 127.0.0.1:0 → ports \(first) and \(second), both carry data")
    }

    /// DELETE closes the listener and the live connections before its reply: a server binds
    /// the port right after (with SO_REUSEADDR, as servers do, for the closed connections'
    /// TIME_WAIT; without it for a proxy that never had one), and the API creates a proxy
    /// there again.
    func testDeleteFreesThePortAtOnce() throws {
        let port = try createProxy("deleted")
        let fd = try Sock.connect(port: port)
        defer { Sock.close(fd) }
        _ = try Sock.roundTrip(fd, Self.message(1000, tag: 1))
        let idle = try createProxy("deleted_idle")

        let removal = try serve.request("DELETE", "/proxies/deleted")
        XCTAssertEqual(removal.status, 204, "\(removal)")
        let bound: (fd: Int32, port: UInt16)
        do {
            bound = try Sock.listen(port: port)
        } catch {
            return XCTFail("binding 127.0.0.1:\(port) right after DELETE: \(error)\n\(log)")
        }
        Sock.close(bound.fd)
        let (_, end) = Sock.readUntilClosed(fd, timeout: 2)
        XCTAssertTrue(end == "EOF" || end == "RST", "the live connection after DELETE: \(end)\n\(log)")

        let idleRemoval = try serve.request("DELETE", "/proxies/deleted_idle")
        XCTAssertEqual(idleRemoval.status, 204, "\(idleRemoval)")
        let plain = Self.bindWithoutReuse(idle)
        XCTAssertEqual(plain, 0, "bind 127.0.0.1:\(idle) without SO_REUSEADDR after DELETE: errno \(plain) \(String(cString: strerror(plain)))\n\(log)")

        XCTAssertEqual(try createProxy("deleted", listen: "127.0.0.1:\(port)"), port)
        let again = try Sock.connect(port: port)
        defer { Sock.close(again) }
        XCTAssertLessThan(try Sock.roundTrip(again, Self.message(10, tag: 2)), 0.1)
        print("DELETE answered in \(removal.milliseconds); port \(port) bound by the test at once (live connection: \(end)), \(idle) without SO_REUSEADDR too; re-created on \(port)")
    }

    /// bind(2) + listen(2) on 127.0.0.1:`port` with no SO_REUSEADDR; 0 or the errno.
    private static func bindWithoutReuse(_ port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { Glibc.close(fd) }
        let status = (try? Sock.withAddress("127.0.0.1", port) { bind(fd, $0, $1) }) ?? -1
        guard status == 0, Glibc.listen(fd, 1) == 0 else { return errno }
        return 0
    }

    /// `/reset` while four connections move data through a 16 KB/s bandwidth toxic: the
    /// connections stay open, nothing is lost or reordered, and right after they move 8 MB each
    /// at loopback speed.
    func testResetDuringThrottledTransfersRestoresFullSpeed() throws {
        let port = try createProxy("throttled")
        try addToxic("throttled", #"{"name":"bw","type":"bandwidth","stream":"downstream","toxicity":1,"attributes":{"rate":16}}"#)
        let clients = try (0..<4).map { _ in try Sock.connect(port: port) }
        defer { clients.forEach(Sock.close) }
        let stop = Locked(false)
        let moved = Locked([Int](repeating: 0, count: clients.count))
        // Lockstep 1 KB round trips: what is in flight stays small, so the echo server never
        // blocks on a full socket.
        let workers = clients.enumerated().map { index, fd in
            Worker("throttled client \(index)") {
                var round = 0
                while !stop.current {
                    _ = try Sock.roundTrip(fd, Self.message(1024, tag: index * 100_000 + round))
                    round += 1
                    moved.update { $0[index] += 1024 }
                }
            }
        }
        usleep(1_500_000)
        let throttled = moved.current
        let reset = try serve.request("POST", "/reset")
        XCTAssertEqual(reset.status, 204, "\(reset)")
        stop.update { $0 = true }
        for worker in workers {
            XCTAssertNoThrow(try worker.join(timeout: 5), "a connection broke across /reset\n\(log)")
        }
        var speeds: [Double] = []
        for (index, fd) in clients.enumerated() {
            let block = Self.message(64 * 1024, tag: index)
            let started = monotonicSeconds()
            for _ in 0..<128 { _ = try Sock.roundTrip(fd, block) }
            speeds.append(8 / (monotonicSeconds() - started))
        }
        let toxics = try serve.request("GET", "/proxies/throttled/toxics")
        XCTAssertEqual(toxics.text.trimmingCharacters(in: .whitespacesAndNewlines), "[]", "\(toxics)")
        print("bandwidth 16 KB/s: \(throttled.map { "\($0 / 1024) KB" }) in 1.5 s per connection; /reset answered in \(reset.milliseconds); after it 8 MB each at \(speeds.map { String(format: "%.0f MB/s", $0) })")
        for bytes in throttled {
            XCTAssertGreaterThan(bytes, 0, "no data moved under the bandwidth toxic\n\(log)")
            XCTAssertLessThan(bytes, 48 * 1024, "the bandwidth toxic did not limit the connection\n\(log)")
        }
        // 64 times the toxic's rate: generous for a loaded machine (a quiet one moves 40-90 MB/s).
        for speed in speeds { XCTAssertGreaterThan(speed, 1, "MB/s after /reset\n\(log)") }
    }

    /// While 200 connections hold data in a 5 s latency toxic, every API call answers at once,
    /// including removing that toxic (Toxiproxy's issues #159, #412, #558: its API hung while
    /// links drained), and the removal releases what the toxic held: every connection gets its
    /// bytes, whole, at once (as Toxiproxy 2.12 does).
    func testAPIAnswersWhile200LinksHoldDataInALatencyToxic() throws {
        let port = try createProxy("held")
        try addToxic("held", #"{"name":"slow","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":5000}}"#)
        let clients = try (0..<200).map { _ in try Sock.connect(port: port, timeout: 15) }
        defer { clients.forEach(Sock.close) }
        for (index, fd) in clients.enumerated() { try Sock.sendAll(fd, Self.message(48, tag: index)) }
        let sent = monotonicSeconds()
        // Every echo is inside the toxic: the upstream saw all 200 connections.
        XCTAssertTrue(waitUntil(timeout: 3) { echo.accepted.current >= 200 }, "upstream accepted \(echo.accepted.current) of 200\n\(log)")
        usleep(200_000)

        var replies: [APIReply] = []
        func call(_ method: String, _ path: String, json: String? = nil, status: Int) throws {
            let reply = try serve.request(method, path, json: json, timeout: 10)
            XCTAssertEqual(reply.status, status, "\(reply)")
            replies.append(reply)
        }
        try call("GET", "/version", status: 200)
        try call("GET", "/proxies", status: 200)
        try call("GET", "/proxies/held", status: 200)
        try call("GET", "/proxies/held/toxics", status: 200)
        try call("POST", "/proxies/held/toxics", json: #"{"name":"extra","type":"latency","stream":"upstream","attributes":{"latency":1}}"#, status: 200)
        // Not the held toxic: a PATCH of it releases what it holds, in Toxiproxy too.
        try call("PATCH", "/proxies/held/toxics/extra", json: #"{"attributes":{"latency":2}}"#, status: 200)
        try call("DELETE", "/proxies/held/toxics/extra", status: 204)
        try call("POST", "/proxies", json: #"{"name":"bystander","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}"#, status: 201)
        let readableBefore = clients.filter { Sock.waitReadable($0, timeout: 0) }.count
        try call("DELETE", "/proxies/held/toxics/slow", status: 204)
        let removed = monotonicSeconds()
        try call("GET", "/proxies/held", status: 200)
        try call("POST", "/reset", status: 204)
        try call("DELETE", "/proxies/bystander", status: 204)
        let heldFor = removed - sent

        var arrivals: [Double] = []
        for (index, fd) in clients.enumerated() {
            let echoed = try Sock.readExactly(fd, 48)
            arrivals.append(monotonicSeconds() - removed)
            XCTAssertEqual(echoed, Self.message(48, tag: index), "connection \(index) got other bytes")
        }
        let slowest = replies.max { $0.seconds < $1.seconds }!
        print("200 connections held in latency 5 s: \(replies.count) API calls, slowest \(slowest.method) \(slowest.path) \(slowest.milliseconds), median \(Self.ms(replies.map(\.seconds).sorted()[replies.count / 2])); calls: \(replies.map { "\($0.method) \($0.path) \($0.milliseconds)" }.joined(separator: ", "))")
        print("the toxic was removed \(String(format: "%.2f", heldFor)) s after the sends, with \(readableBefore) of 200 echoes out; the last echo arrived \(Self.ms(arrivals.max() ?? 0)) after the removal")
        XCTAssertEqual(readableBefore, 0, "echoes came out of a 5 s latency toxic early\n\(log)")
        XCTAssertLessThan(heldFor, 4.5, "the calls took so long the toxic may have released the data already")
        // Toxiproxy forwards what a removed latency toxic held at once (0.3 ms for 200 links).
        XCTAssertLessThan(arrivals.max() ?? 0, 1.0, "echoes held by the removed toxic came late\n\(log)")
        for reply in replies {
            XCTAssertLessThan(reply.seconds, 1.0, "\(reply) while 200 links hold data\n\(log)")
        }
    }
}
