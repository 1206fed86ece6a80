import Foundation
import Glibc
import XCTest

/// `faultline replay DIR`: the recorded scenario played again with its seed, so a client that
/// behaves the same meets the same fault decisions; and what replay refuses.
final class RecordingReplayTests: RecordingCase {
    /// Two proxies with probabilistic faults: redis.error on half the GETs (per command) and
    /// tcp.reset_peer on half the connections (per connection). No `seed:`: the run draws one.
    private func coinScenario(redis: UInt16) throws -> (path: String, cache: UInt16, raw: UInt16) {
        let cache = try RecordingPorts.take()
        let raw = try RecordingPorts.take()
        let path = try writeScenario("coins", """
            name: coins
            proxies:
              cache:
                listen: 127.0.0.1:\(cache)
                upstream: 127.0.0.1:\(redis)
                protocol: redis
              raw:
                listen: 127.0.0.1:\(raw)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: only
                for: 200ms
            faults:
              - redis.error: { error: "ERR coin", commands: [GET], probability: 0.5, proxy: cache }
              - tcp.reset_peer: { probability: 0.5, proxy: raw }
            """)
        return (path, cache, raw)
    }

    /// The client: 40 GETs one after another on one connection, then 20 connections one after another.
    private func coinClient(cache: UInt16, raw: UInt16) throws -> [String] {
        let python = try python()
        let script = "\(folder)/rec_client.py"
        return ["/bin/sh", "-c", "'\(python)' '\(script)' gets --port \(cache) --count 40"
                + " && '\(python)' '\(script)' connections --port \(raw) --count 20"]
    }

    /// The fault decisions of a recording, in order: (proxy, link, kind, fault name, action).
    private func decisions(_ directory: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try events(in: directory, file: file, line: line).filter { ["faultApplied", "faultFired"].contains($0.kind) }.map {
            "\($0.proxy ?? "-") link \($0.link.map(String.init) ?? "-") \($0.kind) \($0.string("name") ?? "-") \($0.string("action") ?? "")"
        }
    }

    /// Which commands met a fault: the cache's requests and faults, interleaved as they happened.
    private func commandsAndFaults(_ directory: String) throws -> [String] {
        try events(in: directory).filter { $0.proxy == "cache" && ["requestStarted", "faultFired"].contains($0.kind) }.map {
            "link \($0.link ?? -1) \($0.kind) \($0.string("detail") ?? $0.string("action") ?? "")"
        }
    }

    /// run --record A, then replay A --record B and --record C with the same client: the same
    /// fault decisions in all three (and the same outcomes at the client); A's scenario.yaml
    /// holds the seed the run drew.
    func testReplayMeetsTheSameFaultDecisionsAsTheRecordedRun() throws {
        try requireRedisPy()
        let redis = try startRedis()
        let (scenario, cache, raw) = try coinScenario(redis: redis)
        let command = try coinClient(cache: cache, raw: raw)
        var outcomes: [String: [[String]]] = [:]
        var seeds: [String: String] = [:]
        for (name, verb) in [("A", ["run", scenario]), ("B", ["replay", recordingDirectory("A")]),
                             ("C", ["replay", recordingDirectory("A")])] {
            let run = try spawn(verb + ["--record", recordingDirectory(name), "--"] + command)
            XCTAssertEqual(run.waitForExit(timeout: 30) ?? run.stop(grace: 1), .exited(0), "\(name): \(run.stdoutText)\n\(run.stderrText)")
            outcomes[name] = Self.jsonLines(run.stdoutText).compactMap { $0["outcomes"] as? [String] }
            seeds[name] = run.stderrText.split(separator: "\n").first { $0.hasPrefix("scenario coins: seed ") }
                .map { String($0.dropFirst("scenario coins: seed ".count).prefix { $0.isNumber }) }
        }
        let seed = try XCTUnwrap(seeds["A"])
        XCTAssertEqual(seeds["B"], seed, "replay B played another seed")
        XCTAssertEqual(seeds["C"], seed, "replay C played another seed")
        let recorded = try String(contentsOfFile: "\(recordingDirectory("A"))/scenario.yaml", encoding: .utf8)
        XCTAssertTrue(recorded.split(separator: "\n").contains("seed: \(seed)"), recorded)
        XCTAssertTrue(recorded.hasPrefix("# Recorded by faultline "), recorded)

        let a = try decisions(recordingDirectory("A"))
        // The coins were tossed: each fault fired on some GETs (connections), not all.
        let errors = a.filter { $0.hasPrefix("cache ") && $0.hasSuffix("faultFired redis.error answered") }.count
        let resets = a.filter { $0.hasPrefix("raw ") && $0.hasSuffix("faultFired tcp.reset_peer reset") }.count
        XCTAssertTrue(errors > 0 && errors < 40, "redis.error fired on \(errors) of 40 GETs: \(a)")
        XCTAssertTrue(resets > 0 && resets < 20, "tcp.reset_peer fired on \(resets) of 20 connections: \(a)")
        XCTAssertEqual(try decisions(recordingDirectory("B")), a, "replay B met other fault decisions")
        XCTAssertEqual(try decisions(recordingDirectory("C")), a, "replay C met other fault decisions")
        let commands = try commandsAndFaults(recordingDirectory("A"))
        XCTAssertEqual(try commandsAndFaults(recordingDirectory("B")), commands, "other GETs met redis.error in B")
        XCTAssertEqual(try commandsAndFaults(recordingDirectory("C")), commands, "other GETs met redis.error in C")
        // Two proxies, four interfaces in the capture, one per leg.
        let legs = try tsharkFields("\(recordingDirectory("A"))/capture.pcapng", [], fields: ["frame.interface_name"])
        XCTAssertEqual(Set(legs.map { $0[0] }), ["cache client", "cache upstream", "raw client", "raw upstream"])
        XCTAssertEqual(outcomes["A"]?.count, 2)
        XCTAssertEqual(outcomes["B"], outcomes["A"])
        XCTAssertEqual(outcomes["C"], outcomes["A"])
    }

    /// replay refuses to record into the recording it replays (as given, with a trailing slash,
    /// through a symlink) — exit 2 naming --record, the recording untouched — and a folder
    /// without scenario.yaml (a `proxy --record` folder) — exit 2 naming the file.
    func testReplayRefusesItsOwnFolderAndAFolderWithoutScenario() throws {
        let (scenario, port) = try idleScenario("short", for: "200ms")
        let recording = recordingDirectory("A")
        let first = try spawn(["run", scenario, "--record", recording])
        XCTAssertEqual(first.waitForExit(timeout: 15) ?? first.stop(grace: 1), .exited(0), first.stderrText)
        let before = try files(in: recording)
        XCTAssertTrue(before.map(\.name).contains("scenario.yaml"), "\(before.map(\.name))")
        let link = "\(folder)/A-link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: recording)
        for target in [recording, recording + "/", link] {
            let replay = try spawn(["replay", recording, "--record", target])
            XCTAssertEqual(replay.waitForExit(timeout: 15) ?? replay.stop(grace: 1), .exited(2), "\(target): \(replay.stderrText)")
            XCTAssertEqual(replay.stderrText.trimmingCharacters(in: .newlines),
                           "faultline: --record: \(target) is the recording being replayed: record the replay into another folder")
            XCTAssertFalse(listens(port), "\(target): the replay started its proxy")
        }
        let after = try files(in: recording)
        XCTAssertEqual(after.map(\.name), before.map(\.name))
        XCTAssertEqual(after.map(\.bytes), before.map(\.bytes), "a refused replay changed the recording")

        // A folder `proxy --record` wrote has no scenario to replay.
        let sink = try startSink()
        let proxyRecording = recordingDirectory("P")
        let (proxy, _) = try startProxy(upstream: sink.port, ["--record", proxyRecording])
        XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
        let out = recordingDirectory("P2")
        let replay = try spawn(["replay", proxyRecording, "--record", out])
        XCTAssertEqual(replay.waitForExit(timeout: 15) ?? replay.stop(grace: 1), .exited(2), replay.stderrText)
        XCTAssertEqual(replay.stderrText.trimmingCharacters(in: .newlines),
                       "faultline: replay: \(proxyRecording)/scenario.yaml not found: DIR must be a folder written by `faultline run --record DIR`")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a refused replay made its --record folder")
    }
}
