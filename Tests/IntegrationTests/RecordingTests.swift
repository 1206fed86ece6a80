import Foundation
import Glibc
import XCTest

/// `--record DIR` as a user meets it: events.jsonl readable after SIGTERM and SIGKILL, an
/// unwritable DIR refused before anything runs, a full disk or --capture-limit stopping a file
/// and never the proxy, bad flags refused with the flag named.
/// (Capture contents and redaction: RecordingCaptureTests; replay: RecordingReplayTests.)
final class RecordingTests: RecordingCase {
    /// A Redis scenario: a 1 s phase, then a long one the test cuts short with a signal.
    private func loopScenario(redis: UInt16) throws -> (path: String, port: UInt16) {
        let port = try RecordingPorts.take()
        let path = try writeScenario("loop", """
            name: recorded-loop
            proxies:
              cache:
                listen: 127.0.0.1:\(port)
                upstream: 127.0.0.1:\(redis)
                protocol: redis
            timeline:
              - phase: warm
                for: 1s
              - phase: steady
                for: 20s
            """)
        return (path, port)
    }

    // MARK: events.jsonl

    /// SIGTERM mid-run flushes everything: every line parses, the stop and the command's end are
    /// there, and so is every command the client saw answered.
    func testEventsAfterSIGTERMParseLineByLineAndHoldEveryAnsweredCommand() throws {
        try requireRedisPy()
        let redis = try startRedis()
        let (scenario, port) = try loopScenario(redis: redis)
        let directory = recordingDirectory("term")
        let run = try spawn(["run", scenario, "--record", directory, "--"]
                            + (try clientCommand(["loop", "--port", "\(port)", "--duration", "20"])))
        // The client prints {"commands": N} every 100 commands answered: wait for some.
        XCTAssertTrue(waitUntil(timeout: 15) { run.stdoutText.contains("\"commands\": 200") || !run.isRunning },
                      run.stderrText)
        usleep(1_600_000)  // into phase steady (it starts at 1 s)
        XCTAssertEqual(terminate(run), .exited(1), "a run cut short by SIGTERM exits 1\n\(run.stderrText)")

        let events = try events(in: directory)
        let kinds = events.map(\.kind)
        for kind in ["listening", "phaseStarted", "commandStarted", "connectionOpened", "requestStarted", "stopping",
                     "commandExited"] {
            XCTAssertTrue(kinds.contains(kind), "no \(kind) in events.jsonl: \(Set(kinds))")
        }
        XCTAssertEqual(events.filter { $0.kind == "phaseStarted" }.compactMap { $0.string("name") }, ["warm", "steady"])
        XCTAssertEqual(events.first { $0.kind == "stopping" }?.fields["signal"] as? Int, 15)
        // Everything up to the signal was flushed: at least as many commands as the client counted.
        let counted = Self.jsonLines(run.stdoutText).compactMap { $0["commands"] as? Int }.max() ?? 0
        let recorded = events.filter { $0.kind == "requestStarted" && $0.proxy == "cache" }
        XCTAssertGreaterThanOrEqual(counted, 200)
        XCTAssertGreaterThanOrEqual(recorded.count, counted, "commands the client saw answered are missing")
        XCTAssertTrue(recorded.contains { $0.string("detail")?.hasPrefix("SET loop:") ?? false },
                      "\(recorded.prefix(3).map(\.fields))")
        // wall and time agree: wall − time is the same instant (the start) on every line, ± 50 ms.
        let starts = events.compactMap { event in event.wall.map { $0 - event.time } }
        XCTAssertLessThan((starts.max() ?? 0) - (starts.min() ?? 0), 0.05, "wall and time drift apart")
    }

    /// SIGKILL leaves a valid prefix: every line there parses, and no more than about the last
    /// second is missing (the phase that began 2 s before the kill is there, and traffic up to
    /// ~1 s before it).
    func testEventsAfterSIGKILLAreAValidPrefixMissingAtMostTheLastSecond() throws {
        try requireRedisPy()
        let redis = try startRedis()
        let (scenario, port) = try loopScenario(redis: redis)
        let directory = recordingDirectory("kill")
        let run = try spawn(["run", scenario, "--record", directory, "--"]
                            + (try clientCommand(["loop", "--port", "\(port)", "--duration", "20"])))
        XCTAssertTrue(waitUntil(timeout: 15) { run.stdoutText.contains("\"commands\": 100") || !run.isRunning },
                      run.stderrText)
        // Phase steady starts 1 s into the run; the kill comes ≥ 2 s after it.
        XCTAssertTrue(waitUntil(timeout: 10) { run.stderrText.contains("phase steady started") }, run.stderrText)
        usleep(2_200_000)
        let killedAt = Date().timeIntervalSince1970
        run.signal(SIGKILL)
        XCTAssertEqual(run.waitForExit(timeout: 10), .signaled(SIGKILL))

        let events = try events(in: directory)
        XCTAssertTrue(events.contains { $0.kind == "phaseStarted" && $0.string("name") == "steady" },
                      "the phase that started 2 s before the kill is missing: \(events.suffix(3).map(\.fields))")
        XCTAssertTrue(events.contains { $0.kind == "requestStarted" }, "no command recorded")
        let last = try XCTUnwrap(events.last?.wall)
        XCTAssertGreaterThan(last, killedAt - 1.6,
                             "the last line is \(killedAt - last) s older than the kill: more than the last second was lost")
    }

    // MARK: An unwritable DIR

    /// DIR under a regular file, a regular file as DIR, DIR on a read-only mount: exit 2 with
    /// `faultline: --record: cannot write PATH: REASON`, no proxy, no command.
    func testUnwritableRecordFolderExits2BeforeAnythingRuns() throws {
        let afile = "\(folder)/afile"
        XCTAssertTrue(FileManager.default.createFile(atPath: afile, contents: Data("x".utf8)))
        var cases: [(directory: String, message: String)] = [
            ("\(afile)/rec", "faultline: --record: cannot write \(afile)/rec: Not a directory"),
            (afile, "faultline: --record: cannot write \(afile): Not a directory"),
        ]
        do {
            let readOnly = try mountTmpfs("ro", options: "ro,size=1m")
            cases += [
                ("\(readOnly)/rec", "faultline: --record: cannot write \(readOnly)/rec: Read-only file system"),
                (readOnly, "faultline: --record: cannot write \(readOnly): Read-only file system"),
            ]
        } catch is XCTSkip {
            print("no read-only tmpfs here: the read-only case is left out")
        }
        for (directory, message) in cases {
            let port = try RecordingPorts.take()
            let marker = "\(folder)/command-ran-\(port)"
            let scenario = try writeScenario("unwritable-\(port)", """
                name: unwritable
                proxies:
                  api:
                    listen: 127.0.0.1:\(port)
                    upstream: 127.0.0.1:\(try RecordingPorts.take())
                timeline:
                  - phase: only
                    for: 5s
                """)
            let run = try spawn(["run", scenario, "--record", directory, "--", "/bin/sh", "-c", "touch \(marker); sleep 5"])
            let ended = run.waitForExit(timeout: 10) ?? run.stop(grace: 1)
            XCTAssertEqual(ended, .exited(2), "\(directory): \(run.stderrText)")
            XCTAssertTrue(run.stderrText.split(separator: "\n").contains(Substring(message)),
                          "expected '\(message)' in:\n\(run.stderrText)")
            XCTAssertFalse(run.stderrText.contains("listening on"), run.stderrText)
            XCTAssertFalse(run.stderrText.contains("command started"), run.stderrText)
            XCTAssertFalse(listens(port), "port \(port) still listening")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the command ran")
        }
        // proxy --record: the same refusal, and no listener.
        let port = try RecordingPorts.take()
        let proxy = try spawn(["proxy", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:\(try RecordingPorts.take())",
                               "--record", "\(afile)/rec"])
        XCTAssertEqual(proxy.waitForExit(timeout: 10) ?? proxy.stop(grace: 1), .exited(2), proxy.stderrText)
        XCTAssertTrue(proxy.stderrText.contains("faultline: --record: cannot write \(afile)/rec: Not a directory"),
                      proxy.stderrText)
        XCTAssertFalse(listens(port))
        // serve --record: the same, and no API.
        let api = try RecordingPorts.take()
        let serve = try spawn(["serve", "--api", "127.0.0.1:\(api)", "--record", "\(afile)/rec"])
        XCTAssertEqual(serve.waitForExit(timeout: 10) ?? serve.stop(grace: 1), .exited(2), serve.stderrText)
        XCTAssertTrue(serve.stderrText.contains("faultline: --record: cannot write \(afile)/rec: Not a directory"),
                      serve.stderrText)
        XCTAssertFalse(listens(api))
    }

    // MARK: A full disk

    /// A 2 MB tmpfs fills with the capture: a warning names the file and ENOSPC, the proxy keeps
    /// forwarding (the sink gets every byte, a fresh connection works), SIGTERM exits 0.
    func testFullDiskStopsTheFileWithAWarningAndTheProxyCarriesOn() throws {
        let disk = try mountTmpfs("small", options: "size=2m")
        let directory = "\(disk)/rec"
        let sink = try startSink()
        let (proxy, port) = try startProxy(upstream: sink.port, ["--record", directory])
        let before = try Self.send(6_000_000, to: port)
        let warning = "recording: \(directory)/capture.pcapng stopped: No space left on device; the proxies carry on"
        XCTAssertTrue(proxy.waitForStderr(containing: warning, timeout: 5), proxy.stderrText)
        XCTAssertTrue(waitUntil(timeout: 10) { sink.total == before }, "sink got \(sink.total) of \(before)")
        // The disk is full; the proxy still forwards, on a fresh connection too.
        let connections = sink.accepted
        let after = try Self.send(3_000_000, to: port)
        XCTAssertTrue(waitUntil(timeout: 10) { sink.total == before + after }, "sink got \(sink.total) of \(before + after)")
        XCTAssertEqual(sink.accepted, connections + 1)
        XCTAssertTrue(proxy.isRunning)
        XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
        // The stop is an event where there was room for it, else in the log only.
        let recorded = try events(in: directory)
        if let stopped = recorded.first(where: { $0.kind == "recordingStopped" }) {
            XCTAssertEqual(stopped.string("file"), "capture.pcapng")
            XCTAssertEqual(stopped.string("reason"), "No space left on device")
        }
        XCTAssertFalse(proxy.stderrText.contains("[warn]") || proxy.stderrText.contains(" error "), proxy.stderrText)
    }

    /// A file stopped by a full disk still reads: events.jsonl keeps whole lines (a reader
    /// parses it line by line, as after SIGKILL) and capture.pcapng whole blocks (tshark reads
    /// it without "cut short in the middle of a packet"). The events of a redis-py pipeline
    /// fill a 1 MB tmpfs; a 6 MB transfer fills a 2 MB one with the capture.
    func testFilesStoppedByAFullDiskEndWithAWholeRecord() throws {
        try requireRedisPy()
        let redis = try startRedis()
        let eventsDisk = try mountTmpfs("events-disk", options: "size=1m")
        let eventsDirectory = "\(eventsDisk)/rec"
        let (redisProxy, redisPort) = try startProxy(upstream: redis, ["--protocol", "redis", "--no-capture",
                                                                       "--record", eventsDirectory])
        let done = try client(["pipeline", "--port", "\(redisPort)", "--count", "4000", "--resp", "2"])
        XCTAssertEqual(done.first?["ping"] as? Bool, true, "the proxy stopped forwarding")
        XCTAssertTrue(redisProxy.waitForStderr(containing: "events.jsonl stopped: No space left on device", timeout: 5),
                      redisProxy.stderrText)
        XCTAssertEqual(terminate(redisProxy), .exited(0), redisProxy.stderrText)
        let recorded = try events(in: eventsDirectory)  // fails on a line cut in the middle
        XCTAssertGreaterThan(recorded.count, 1000)

        let captureDisk = try mountTmpfs("capture-disk", options: "size=2m")
        let captureDirectory = "\(captureDisk)/rec"
        let sink = try startSink()
        let (proxy, port) = try startProxy(upstream: sink.port, ["--record", captureDirectory])
        try Self.send(6_000_000, to: port)
        XCTAssertTrue(proxy.waitForStderr(containing: "capture.pcapng stopped: No space left on device", timeout: 5),
                      proxy.stderrText)
        XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)
        let read = try tshark("\(captureDirectory)/capture.pcapng", ["-q"])
        XCTAssertEqual(read.ended, .exited(0), read.stderr)
        XCTAssertEqual(read.stderr, "", "tshark: the capture ends in the middle of a block")
    }

    // MARK: --capture-limit

    /// --capture-limit 1MB: the capture ends near 1 MB as a file tshark reads without error,
    /// events.jsonl says why, and links keep working.
    func testCaptureLimitStopsTheCaptureNearTheLimitAsAReadableFile() throws {
        let directory = recordingDirectory("limit")
        let sink = try startSink()
        let (proxy, port) = try startProxy(upstream: sink.port, ["--record", directory, "--capture-limit", "1MB"])
        let first = try Self.send(3_000_000, to: port)
        let second = try Self.send(500_000, to: port)
        XCTAssertTrue(waitUntil(timeout: 10) { sink.total == first + second }, "sink got \(sink.total)")
        XCTAssertTrue(proxy.waitForStderr(containing: "capture.pcapng stopped: the capture limit", timeout: 5),
                      proxy.stderrText)
        XCTAssertEqual(terminate(proxy), .exited(0), proxy.stderrText)

        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: "\(directory)/capture.pcapng")[.size] as? Int)
        XCTAssertGreaterThan(size, 900_000, "the capture stopped well before its limit")
        XCTAssertLessThanOrEqual(size, 1_000_000 + 256_000, "the capture went past its limit")
        let read = try tshark("\(directory)/capture.pcapng", ["-q"])
        XCTAssertEqual(read.ended, .exited(0), read.stderr)
        XCTAssertEqual(read.stderr, "", "tshark had something to say about the capture")
        let stopped = try events(in: directory).filter { $0.kind == "recordingStopped" }
        XCTAssertEqual(stopped.count, 1, "\(stopped.map(\.fields))")
        XCTAssertEqual(stopped.first?.string("file"), "capture.pcapng")
        XCTAssertEqual(stopped.first?.string("reason"), "the capture limit of 1000000 bytes was reached (--capture-limit)")
    }

    // MARK: Bad input

    /// Bad --capture-limit values and refinements without --record: exit 2, the flag named, the
    /// exact message, nothing made, nothing started.
    func testBadRecordingFlagsExit2NamingTheFlagAndMakeNothing() throws {
        let (scenario, port) = try idleScenario("flags", for: "1s")
        let directory = recordingDirectory("never")
        let cases: [(arguments: [String], message: String)] = [
            (["--record", directory, "--capture-limit", "0"],
             "faultline: --capture-limit: '0' is less than the smallest capture limit, 1MB"),
            (["--record", directory, "--capture-limit", "999999"],
             "faultline: --capture-limit: '999999' is less than the smallest capture limit, 1MB"),
            (["--record", directory, "--capture-limit", "abc"],
             "faultline: --capture-limit: 'abc' is not a size: write bytes or a whole number with KB, MB, GB, TB (e.g. 256MB)"),
            (["--record", directory, "--capture-limit", "1001GB"],
             "faultline: --capture-limit: '1001GB' is more than the largest capture limit, 1TB"),
            (["--record", directory, "--capture-limit", "99999999999999999999GB"],
             "faultline: --capture-limit: '99999999999999999999GB' is more than the largest capture limit, 1TB"),
            (["--record", directory, "--capture-limit", "2MB", "--no-capture"],
             "faultline: --capture-limit: means nothing with --no-capture"),
            (["--no-capture"], "faultline: --no-capture: needs --record DIR: it refines what the recording writes"),
            (["--no-redact"], "faultline: --no-redact: needs --record DIR: it refines what the recording writes"),
            (["--capture-limit", "1MB"], "faultline: --capture-limit: needs --record DIR: it refines what the recording writes"),
        ]
        for (arguments, message) in cases {
            let run = try spawn(["run", scenario] + arguments)
            XCTAssertEqual(run.waitForExit(timeout: 10) ?? run.stop(grace: 1), .exited(2), "\(arguments): \(run.stderrText)")
            XCTAssertEqual(run.stderrText.trimmingCharacters(in: .newlines), message, "\(arguments)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "\(arguments) made \(directory)")
        }
        // proxy takes the same flags the same way.
        let proxy = try spawn(["proxy", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:1", "--no-capture"])
        XCTAssertEqual(proxy.waitForExit(timeout: 10) ?? proxy.stop(grace: 1), .exited(2))
        XCTAssertEqual(proxy.stderrText.trimmingCharacters(in: .newlines),
                       "faultline: --no-capture: needs --record DIR: it refines what the recording writes")
        XCTAssertFalse(listens(port))
    }

    /// --capture-limit goes up to 1TB, as its help says ("1MB to 1TB") and as sizes elsewhere
    /// take TB (docs/faults.md): 1TB is the largest limit, 99999999999TB is too large (not "not
    /// a size").
    func testCaptureLimitTakesTerabytesUpToOne() throws {
        let (scenario, port) = try idleScenario("tb", for: "200ms")
        let directory = recordingDirectory("tb")
        let run = try spawn(["run", scenario, "--record", directory, "--capture-limit", "1TB"])
        XCTAssertEqual(run.waitForExit(timeout: 10) ?? run.stop(grace: 1), .exited(0), run.stderrText)
        let info = (try? String(contentsOfFile: "\(directory)/recording.json", encoding: .utf8)) ?? "(no recording.json)"
        XCTAssertTrue(info.contains("\"captureLimit\":1000000000000"), info)

        let huge = try spawn(["run", scenario, "--record", recordingDirectory("huge"), "--capture-limit", "99999999999TB"])
        XCTAssertEqual(huge.waitForExit(timeout: 10) ?? huge.stop(grace: 1), .exited(2))
        XCTAssertEqual(huge.stderrText.trimmingCharacters(in: .newlines),
                       "faultline: --capture-limit: '99999999999TB' is more than the largest capture limit, 1TB")
        XCTAssertFalse(FileManager.default.fileExists(atPath: recordingDirectory("huge")))
    }
}
