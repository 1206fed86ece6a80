import Foundation
import XCTest

/// Faults that come and go with a scenario's phases act on the connections already open,
/// request by request (docs/faults.md: "Faults added or removed while connections are open act
/// on them at once; removing a fault that holds bytes lets them through"): a keep-alive client
/// meets an http.respond phase on the connection it opened before it, and leaves it on the
/// same connection; at a phase's end held responses, held requests and drips let go.
final class HTTPProtocolLiveChangeTests: HTTPProtocolCase {
    private func command(_ listen: UInt16, _ paths: [String], _ arguments: [String]) throws -> [String] {
        [try TLSTools.python(), client("http_client.py"), "requests", "--base", "http://127.0.0.1:\(listen)"]
            + paths.flatMap { ["--path", $0] } + arguments
    }

    /// One requests.Session asking every 0.2 s through phases before (1.5 s), outage (1.5 s,
    /// http.respond 503) and after: 200s, then 503s, then 200s again, all on one connection,
    /// and max_requests during the outage counts exactly the 503s.
    func testPhaseFaultActsOnTheOpenKeepAliveConnection() throws {
        let upstream = try pythonUpstream()
        let listen = try Sock.freePort()
        let scenario = try httpScenario("outage", listen: listen, upstream: upstream, seed: 1, """
            timeline:
              - phase: before
                for: 1500ms
              - phase: outage
                for: 1500ms
                faults:
                  - http.respond: { status: 503, path: "/api/v1/users" }
              - phase: after
                for: 1500ms
            expect:
              - { during: outage, proxy: api, max_requests: 3 }
            """)
        let runs = try runSideBySide(["outage": (scenario, try command(listen, Array(repeating: "/api/v1/users", count: 22),
                                                                       ["--pause", "0.2"]))])
        let run = try XCTUnwrap(runs["outage"])
        let statuses = run.stdout.split(separator: "\n").compactMap { line -> Int? in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["status"] as? Int
        }
        XCTAssertEqual(statuses.count, 22, run.transcript)
        let shape = statuses.reduce(into: [Int]()) { runs, status in if runs.last != status { runs.append(status) } }
        XCTAssertEqual(shape, [200, 503, 200], "\(statuses)")
        let unavailable = statuses.filter { $0 == 503 }.count
        XCTAssertTrue((5...9).contains(unavailable), "\(statuses)")
        assertVerdict(run, "FAIL", "max_requests: 3 (during: outage, proxy: api)", figure: "max_requests \(unavailable) > 3")
        let seen = upstream.waitForSeen(22 - unavailable)
        XCTAssertEqual(seen.count, 22 - unavailable)
        XCTAssertEqual(Set(seen.map(\.connection)).count, 1, "the phases' changes cost the client its connection: \(seen)")
    }

    /// Three requests held at the start of a 2 s phase (a 10 s response hold, a 10 s request
    /// hold, a 100 B/s drip of 1,000 bytes): when the phase ends, each goes on, so all three
    /// are answered in full well before their 10 s.
    func testRemovedFaultsLetHeldBytesGo() throws {
        let upstream = try pythonUpstream()
        let listen = try Sock.freePort()
        let scenario = try httpScenario("holds", listen: listen, upstream: upstream, seed: 1, """
            timeline:
              - phase: slow
                for: 2s
                faults:
                  - http.delay: { delay: 10s, path: "/api/v1/users" }
                  - http.delay: { delay: 10s, before: request, path: "/api/v2/users", name: held_request }
                  - http.drip: { rate: 100B, path: "/bytes" }
              - phase: after
                for: 1s
            """)
        let clients = try ["/api/v1/users", "/api/v2/users", "/bytes?size=1000"].map {
            try command(listen, [$0], ["--timeout", "8"]).map { "'\($0)'" }.joined(separator: " ") + " &"
        }
        let runs = try runSideBySide(["holds": (scenario, ["/bin/sh", "-c", clients.joined(separator: " ") + " wait"])])
        let run = try XCTUnwrap(runs["holds"])
        let lines = run.stdout.split(separator: "\n").compactMap {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]).map(ClientLine.init)
        }
        XCTAssertEqual(lines.count, 3, run.transcript)
        for line in lines {
            XCTAssertEqual(line.status, 200, "\(line)")
            XCTAssertLessThan(line.seconds() ?? 99, 4.5, "still held after its fault was removed at 2 s: \(line)")
        }
        XCTAssertEqual(lines.compactMap { $0.int("length") }.sorted(), [50, 54, 1000], "\(lines)")
    }
}
