import Faultline
import Foundation
import XCTest

/// A valid file becomes the typed model with every value in place.
final class ScenarioLoaderTests: XCTestCase {
    static let valid = """
        name: redis-auth-railway
        description: Managed Redis rejects AUTH; idle connections are cut at 2 s.
        seed: 42
        proxies:
          redis:
            listen: 127.0.0.1:16379
            upstream: 127.0.0.1:6379
            protocol: tcp
            # no tls: or upstream_tls: here: plain TCP (ScenarioTLSKeysTests reads them)
          api:
            listen: "[::1]:18080"
            upstream: 127.0.0.1:8080
        timeline:
          - phase: healthy
            for: 5s
          - phase: outage
            for: 30s
            faults:
              - tcp.latency: { proxy: redis, ms: 100, jitter: 10, probability: 0.5 }
              - tcp.cutoff: { proxy: redis, after: 2s, first: 3, name: cut }
          - phase: recovery
            for: 20s
        faults:
          - tcp.bandwidth: { proxy: api, rate: 100KB, direction: upstream }
        expect:
          - during: outage
            proxy: redis
            max_connection_attempts: 6
          - after: outage
            proxy: api
            probe_after: {quiet: 30s, within: 5s}
          - max_rate: 2.5
        """

    func testValidFileBecomesTheModel() throws {
        let scenario = try ScenarioLoader.load(yaml: Self.valid, file: "scenarios/railway.yaml")
        XCTAssertEqual(scenario.name, "redis-auth-railway")
        XCTAssertEqual(scenario.description, "Managed Redis rejects AUTH; idle connections are cut at 2 s.")
        XCTAssertEqual(scenario.seed, 42)

        XCTAssertEqual(scenario.proxies.map(\.name), ["redis", "api"])
        let redis = try XCTUnwrap(scenario.proxy(named: "redis"))
        XCTAssertEqual(redis.listen.description, "127.0.0.1:16379")
        XCTAssertEqual(redis.upstream.description, "127.0.0.1:6379")
        XCTAssertEqual(redis.protocol, .tcp)
        XCTAssertEqual(redis.position, SourcePosition(line: 5, column: 3))
        XCTAssertNil(redis.tls)
        XCTAssertNil(redis.upstreamTLS)
        let api = try XCTUnwrap(scenario.proxy(named: "api"))
        XCTAssertEqual(api.listen.description, "[::1]:18080")
        XCTAssertEqual(api.protocol, .tcp)

        XCTAssertEqual(scenario.timeline.map(\.name), ["healthy", "outage", "recovery"])
        XCTAssertEqual(scenario.timeline.map(\.duration), [.seconds(5), .seconds(30), .seconds(20)])
        XCTAssertEqual(scenario.duration, .seconds(55))
        let outage = try XCTUnwrap(scenario.phase(named: "outage"))
        XCTAssertEqual(outage.position, SourcePosition(line: 16, column: 5))
        XCTAssertEqual(outage.faults.map(\.proxy), ["redis", "redis"])
        let latency = outage.faults[0].fault
        XCTAssertEqual(latency.kind.name, "tcp.latency")
        XCTAssertEqual(latency.name, "tcp.latency_downstream")
        XCTAssertEqual(latency.probability, 0.5)
        XCTAssertEqual(latency.values["ms"], .duration(.milliseconds(100)))
        XCTAssertEqual(latency.values["jitter"], .duration(.milliseconds(10)))
        XCTAssertEqual(outage.faults[0].position, SourcePosition(line: 19, column: 9))
        let cutoff = outage.faults[1].fault
        XCTAssertEqual(cutoff.name, "cut")
        XCTAssertEqual(cutoff.first, 3)
        XCTAssertEqual(cutoff.values["after"], .duration(.seconds(2)))

        XCTAssertEqual(scenario.faults.count, 1)
        XCTAssertEqual(scenario.faults[0].proxy, "api")
        XCTAssertEqual(scenario.faults[0].fault.direction, .upstream)
        XCTAssertEqual(scenario.faults[0].fault.values["rate"], .count(100 * 1024))
        XCTAssertEqual(scenario.allFaults.count, 3)
    }

    func testExpectationsBecomeSpecsWithPositions() throws {
        let scenario = try ScenarioLoader.load(yaml: Self.valid, file: "railway.yaml")
        XCTAssertEqual(scenario.expectationSpecs, [
            ExpectationSpec(kind: "max_connection_attempts", proxy: "redis", scope: .during("outage"),
                            parameters: ["limit": .number(6)]),
            ExpectationSpec(kind: "probe_after", proxy: "api", scope: .after("outage"),
                            parameters: ["quiet": .duration(.seconds(30)), "within": .duration(.seconds(5))]),
            ExpectationSpec(kind: "max_rate", proxy: nil, scope: .whole, parameters: ["rate": .number(2.5)]),
        ])
        XCTAssertEqual(scenario.expectations[0].position, SourcePosition(line: 26, column: 5))
        XCTAssertEqual(scenario.expectations[0].parameterPositions, ["limit": SourcePosition(line: 28, column: 30)])
        XCTAssertEqual(scenario.expectations[1].parameterPositions["within"], SourcePosition(line: 31, column: 39))
    }

    func testSummaryForCheck() throws {
        let scenario = try ScenarioLoader.load(yaml: Self.valid, file: "railway.yaml")
        XCTAssertEqual(scenario.summary, "2 proxies, 3 phases (55s), 3 faults, 3 expectations")
        let small = try ScenarioLoader.load(yaml: """
            proxies: { db: { listen: 127.0.0.1:15432, upstream: 127.0.0.1:5432 } }
            timeline: [{ phase: slow, for: 1m, faults: [{ tcp.latency: { ms: 5s } }] }]
            expect: [{ during: slow, first_success_within: 10s }]
            """, file: "x.yaml")
        XCTAssertEqual(small.summary, "1 proxy, 1 phase (60s), 1 fault, 1 expectation")
    }

    func testDefaults() throws {
        let scenario = try ScenarioLoader.load(yaml: """
            proxies:
              db:
                listen: 127.0.0.1:15432
                upstream: 127.0.0.1:5432
            timeline:
              - phase: slow
                for: 250ms
                faults:
                  - tcp.down:
                  - tcp.latency: { ms: 5s }
            """, file: "scenarios/postgres-slow.yaml")
        XCTAssertEqual(scenario.name, "postgres-slow", "the file's name without its extension")
        XCTAssertNil(scenario.description)
        XCTAssertNil(scenario.seed)
        XCTAssertEqual(scenario.proxies[0].protocol, .tcp)
        XCTAssertEqual(scenario.timeline[0].faults.map(\.proxy), ["db", "db"], "the only proxy")
        XCTAssertEqual(scenario.timeline[0].faults[0].fault.kind.name, "tcp.down")
        XCTAssertTrue(scenario.faults.isEmpty)
        XCTAssertTrue(scenario.expectations.isEmpty)
    }

    func testTwoPhasesMayReuseAFaultName() throws {
        XCTAssertNoThrow(try ScenarioLoader.load(yaml: """
            proxies: { db: { listen: 127.0.0.1:15432, upstream: 127.0.0.1:5432 } }
            timeline:
              - { phase: a, for: 1s, faults: [{ tcp.latency: { ms: 1 } }] }
              - { phase: b, for: 1s, faults: [{ tcp.latency: { ms: 2 } }] }
            """, file: "x.yaml"))
    }

    func testLoadsFromAFileAndNamesItAsGiven() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-scenario-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ok.yaml").path
        try Self.valid.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ScenarioLoader.load(path: path).name, "redis-auth-railway")

        let missing = directory.appendingPathComponent("missing.yaml").path
        XCTAssertThrowsError(try ScenarioLoader.load(path: missing)) { error in
            XCTAssertEqual("\(error)", "\(missing): no such file")
        }
    }

    /// "cannot read the file" alone left the user guessing; the system's reason says what to fix.
    func testAFileThatCannotBeReadSaysWhy() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("faultline-unreadable-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ok.yaml").path
        try Self.valid.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ScenarioLoader.load(path: path + "/inner.yaml")) { error in
            XCTAssertEqual("\(error)", "\(path)/inner.yaml: cannot read the file: Not a directory")
        }
        chmod(path, 0)
        // Root reads any file whatever its mode; everyone else is refused.
        guard getuid() != 0 else { return }
        XCTAssertThrowsError(try ScenarioLoader.load(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): cannot read the file: Permission denied")
        }
    }
}
