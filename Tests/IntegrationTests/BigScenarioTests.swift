import Foundation
import Glibc
import XCTest

/// `faultline check` on generated files: its time grows with the file, not with its square
/// (10k phases took 0.3 s and 40k 3.4 s before; a 20 MB file never finished), and a file over
/// the 4 MB limit is refused at once, before any YAML is parsed.
final class BigScenarioTests: IntegrationCase {
    private var folder = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        folder = NSTemporaryDirectory() + "faultline-big-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
        super.tearDown()
    }

    /// A valid scenario with `phases` phases, each with a fault and an expectation on it.
    private func writeScenario(phases: Int) throws -> String {
        var text = "proxies:\n  p: { listen: 127.0.0.1:16379, upstream: 127.0.0.1:6379 }\ntimeline:\n"
        for index in 0..<phases {
            text += "  - phase: p\(index)\n    for: 1s\n    faults:\n      - tcp.latency: { ms: 10 }\n"
        }
        text += "expect:\n"
        for index in stride(from: 0, to: phases, by: 10) {
            text += "  - { during: p\(index), max_rate: 5 }\n"
        }
        let path = "\(folder)/phases-\(phases).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `faultline check FILE` and returns its output and the CPU seconds it used: CPU
    /// time, unlike wall time, does not grow when the shared machine is busy.
    private func check(_ path: String) throws -> (Termination?, stdout: String, stderr: String, cpu: Double) {
        let before = childrenCPUSeconds()
        let result = try runCommand(try faultlineBinary(), ["check", path], timeout: 120)
        return (result.0, result.stdout, result.stderr, childrenCPUSeconds() - before)
    }

    /// User and system time of every child this process has waited for.
    private func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    func testCheckTimeGrowsLinearlyWithTheFile() throws {
        let small = try writeScenario(phases: 10_000)
        let large = try writeScenario(phases: 40_000)
        let smallRun = try check(small)
        XCTAssertEqual(smallRun.0, .exited(0), smallRun.stderr)
        XCTAssertEqual(smallRun.stdout, "\(small): ok — 1 proxy, 10000 phases (10000s), 10000 faults, 1000 expectations\n")
        let largeRun = try check(large)
        XCTAssertEqual(largeRun.0, .exited(0), largeRun.stderr)
        XCTAssertEqual(largeRun.stdout, "\(large): ok — 1 proxy, 40000 phases (40000s), 40000 faults, 4000 expectations\n")
        print("check: 10k phases \(smallRun.cpu) s, 40k phases \(largeRun.cpu) s of CPU")
        // Four times the file: about four times the time (six allows for noise), where the
        // quadratic loader took ten times as long.
        XCTAssertLessThan(largeRun.cpu, 6 * smallRun.cpu + 0.5, "40k phases vs 10k: \(largeRun.cpu) s vs \(smallRun.cpu) s")
        XCTAssertLessThan(largeRun.cpu, 15 * sanitizerSlowdown,
                          "a debug build checks 40k phases in about 5 s of CPU (about 15 s under ASan)")
    }

    func testAFileOverTheLimitIsRefusedBeforeParsing() throws {
        let path = "\(folder)/huge.yaml"
        // 5 MB of one valid YAML scalar: parsing it would be slow and then fail on its shape.
        try String(repeating: "a", count: 5 << 20).write(toFile: path, atomically: true, encoding: .utf8)
        let run = try check(path)
        XCTAssertEqual(run.0, .exited(2), run.stderr)
        XCTAssertEqual(run.stderr, "\(path): the file is 5.0 MB: a scenario file may hold at most 4 MB (4194304 bytes)\n")
        XCTAssertLessThan(run.cpu, 2, "the size is checked before the YAML is parsed")
    }
}
