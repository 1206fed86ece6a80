import Foundation
import Glibc
import XCTest

/// `faultline run` on a real terminal (tmux): the live view keeps the command's output
/// readable above it, shows rates of the last second at the current time, and prints names
/// with their control characters escaped.
final class RunLiveViewTests: ScenarioRunCase {
    private func scenario(_ length: String, listen: UInt16, name: String = "live", phase: String = "only") throws -> String {
        try writeScenario("live", """
            name: \(name)
            proxies:
              api:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(try Sock.freePort())
            timeline:
              - phase: \(phase)
                for: \(length)
            """)
    }

    /// The command echoes 8 lines while the view redraws five times a second: every line
    /// stays on screen, in order, above the view (they used to be drawn over). The command
    /// still writes to a terminal, so it keeps its line buffering and colours.
    func testTheCommandsOutputScrollsAboveTheLiveView() throws {
        let script = "for i in 1 2 3 4 5 6 7 8; do echo client line $i; sleep 0.1; done; "
            + "test -t 1 && test -t 2 && echo the command writes to a terminal"
        let terminal = try TerminalSession("\(try faultlineBinary()) run \(try scenario("1500ms", listen: try Sock.freePort())) "
                                           + "-- /bin/sh -c '\(script)'")
        let screen = try terminal.waitFor("exit status", timeout: 20)
        let transcript = screen.joined(separator: "\n")
        let expected = (1...8).map { "client line \($0)" } + ["the command writes to a terminal"]
        let rows = expected.compactMap { line in screen.firstIndex(of: line) }
        XCTAssertEqual(rows.count, expected.count, "lines missing from the screen:\n\(transcript)")
        XCTAssertEqual(rows, rows.sorted(), "lines out of order:\n\(transcript)")
        for line in expected {
            XCTAssertEqual(screen.filter { $0 == line }.count, 1, "'\(line)' shown \(screen.filter { $0 == line }.count) times:\n\(transcript)")
        }
        let view = try XCTUnwrap(screen.firstIndex { $0.hasPrefix("faultline ▸ live") }, transcript)
        XCTAssertGreaterThan(view, rows.last ?? .max, "the view should sit below the command's output:\n\(transcript)")
        XCTAssertEqual(screen.filter { $0.hasPrefix("faultline ▸ live") }.count, 1, "the view was drawn twice:\n\(transcript)")
        XCTAssertTrue(screen.contains("exit status 0"), transcript)
    }

    /// One connection: the rate shows 1 conn/s, then 0 conn/s a second later, although no event
    /// came since (it used to stay at 1/s until the next connection).
    func testTheRateIsOfTheLastSecondAtTheCurrentTime() throws {
        let listen = try Sock.freePort()
        let terminal = try TerminalSession("\(try faultlineBinary()) run \(try scenario("8s", listen: listen))")
        let apiRow = { (screen: [String]) in screen.first { $0.hasPrefix("api ") } ?? "no api row" }
        XCTAssertTrue(apiRow(try terminal.waitFor("0 total", timeout: 20)).contains(" 0 conn/s   0 req/s"))
        let client = try Sock.connect(port: listen, timeout: 5)
        Sock.close(client)
        let connected = monotonicSeconds()
        let during = apiRow(try terminal.waitFor("1 conn/s", timeout: 1))
        XCTAssertTrue(during.contains("1 total") && during.contains("1 conn/s"), during)
        XCTAssertLessThan(monotonicSeconds() - connected, 1, "1 conn/s shown too late to judge")
        usleep(2_000_000)
        let after = apiRow(try terminal.screen())
        XCTAssertTrue(after.contains("1 total") && after.contains(" 0 conn/s"), "2 s after the only connection: \(after)")
    }

    /// Names come from the scenario file: an escape sequence in one must not clear the
    /// screen or recolour it, on the live view or in the plain lines.
    func testControlCharactersInNamesAreEscaped() throws {
        let scenario = try scenario("300ms", listen: try Sock.freePort(), name: #""esc\e]0;title\a""#,
                                    phase: #""up\e[2J\e[31m""#)
        let plain = try run(scenario)
        XCTAssertEqual(plain.termination, .exited(0), plain.transcript)
        XCTAssertTrue(plain.stderr.hasPrefix(#"scenario esc\x1b]0;title\x07: seed "#), plain.transcript)
        XCTAssertTrue(plain.stderr.contains(#" phase up\x1b[2J\x1b[31m started"#), plain.transcript)
        XCTAssertFalse(plain.stderr.contains("\u{1B}") || plain.stdout.contains("\u{1B}"), plain.transcript)
        XCTAssertTrue(plain.stdout.contains(#"esc\x1b]0;title\x07: no expectations"#), plain.transcript)

        let terminal = try TerminalSession("\(try faultlineBinary()) run \(scenario)")
        let screen = try terminal.waitFor("exit status", timeout: 20)
        XCTAssertTrue(screen.contains { $0.hasPrefix(#"faultline ▸ esc\x1b]0;title\x07   phase: "#) },
                      screen.joined(separator: "\n"))
    }
}
