import Foundation
import XCTest

/// What `faultline run` does with its input: a scenario with mistakes is refused with every
/// mistake at its line and column (exit 2, the command never started), the shipped scenarios
/// check clean, and a seed fixes every per-connection decision.
final class ScenarioInputRunTests: ScenarioRunCase {
    /// Four mistakes, each on a known line and column (1-based), and one message word each.
    private let broken = """
        name: broken
        proxis: {}
        proxies:
          redis:
            listen: 127.0.0.1:16399
            upstream: 127.0.0.1:16398
        timeline:
          - phase: outage
            for: 5
            faults:
              - tcp.down: { proxy: redsi, mode: refuse }
        expect:
          - during: outag
            max_rate: 5
        """
    private let mistakes = [
        (position: "2:1", word: "proxis"),      // unknown key
        (position: "9:10", word: "5s"),         // a duration without its unit
        (position: "11:28", word: "redsi"),     // unknown proxy
        (position: "13:13", word: "outag"),     // unknown phase
    ]

    func testABrokenScenarioIsRefusedWithEveryMistakeAtItsPosition() throws {
        let path = try writeScenario("broken", broken)
        let started = "\(folder)/command-started"
        let run = try run(path, command: ["/usr/bin/touch", started])
        XCTAssertEqual(run.termination, .exited(2), run.transcript)
        XCTAssertFalse(FileManager.default.fileExists(atPath: started), "the command ran for a broken scenario")
        XCTAssertTrue(run.verdicts.isEmpty, run.transcript)
        assertMistakes(in: run.stderr, path: path)

        let check = try runCommand(try faultlineBinary(), ["check", path], timeout: 30)
        XCTAssertEqual(check.0, .exited(2), check.stderr)
        assertMistakes(in: check.stderr, path: path)
    }

    /// Each mistake on a `PATH:LINE:COL: message` line of its own, in file order.
    private func assertMistakes(in stderr: String, path: String, file: StaticString = #filePath, line: UInt = #line) {
        let lines = stderr.split(separator: "\n").filter { $0.hasPrefix(path + ":") }
        XCTAssertEqual(lines.count, mistakes.count, stderr, file: file, line: line)
        for (mistake, reported) in zip(mistakes, lines) {
            XCTAssertTrue(reported.hasPrefix("\(path):\(mistake.position): "), "\(reported)", file: file, line: line)
            XCTAssertTrue(reported.contains(mistake.word), "\(reported) should name \(mistake.word)", file: file, line: line)
        }
    }

    func testTheShippedScenariosCheckClean() throws {
        let folder = "\(Self.packageRoot)/scenarios"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
        XCTAssertGreaterThanOrEqual(files.count, 4, "scenarios/ should hold the four incidents")
        let (ended, stdout, stderr) = try runCommand(try faultlineBinary(), ["check"] + files, timeout: 30)
        XCTAssertEqual(ended, .exited(0), stderr)
        for file in files {
            XCTAssertTrue(stdout.contains("\(file): ok — "), "no ok line for \(file):\n\(stdout)")
        }
    }

    /// Every connection is reset at accept with probability 0.5; the client makes 20 PINGs
    /// in a row, one connection each, and prints which failed. The seed alone decides.
    func testTheSeedDecidesWhichConnectionsFail() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let scenario = try writeScenario("coin", """
            name: coin
            seed: 42
            proxies:
              redis:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: only
                for: 60s
            faults:
              - tcp.down: { mode: reset, probability: 0.5 }
            """)
        func outcomes(seed: String) throws -> String {
            // --stop-with-command: the run is over when the 20 PINGs are.
            let run = try run(scenario, ["--seed", seed, "--stop-with-command"], command: [
                try python(), client("scenario_client.py"), "--port", "\(listen)", "--style", "sequence",
                "--count", "20", "--timeout", "2",
            ])
            XCTAssertEqual(run.termination, .exited(0), run.transcript)
            XCTAssertTrue(run.stderr.contains("seed \(seed) (--seed \(seed) repeats it)"), run.transcript)
            let line = run.stdout.split(separator: "\n").first { $0.hasPrefix("outcomes: ") }
            let letters = String(line?.dropFirst("outcomes: ".count) ?? "")
            XCTAssertEqual(letters.count, 20, run.transcript)
            print("  seed \(seed): \(letters)")
            return letters
        }
        let first = try outcomes(seed: "1")
        let again = try outcomes(seed: "1")
        let other = try outcomes(seed: "2")
        XCTAssertEqual(first, again, "the same seed decided differently")
        // Both kinds of connection, or the fault (or the client) is not doing what it should.
        XCTAssertTrue(first.contains("o") && first.contains("x"), "seed 1: \(first)")
        XCTAssertNotEqual(first, other, "seeds 1 and 2 decided the same 20 connections")
    }
}
