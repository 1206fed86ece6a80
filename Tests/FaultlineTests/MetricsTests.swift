@testable import Faultline
import Foundation
import XCTest

/// `GET /metrics`: events counted per proxy, rendered in Prometheus's text format.
final class MetricsTests: XCTestCase {
    private func event(_ kind: Event.Kind, proxy: String? = "redis", link: UInt64? = 1) -> Event {
        Event(time: .seconds(1), proxy: proxy, link: link, kind: kind)
    }

    private func proxy(_ name: String, protocol: String = "redis", enabled: Bool = true, open: Int = 0,
                       faults: [(name: String, kind: String)] = []) -> MetricsProxy {
        MetricsProxy(name: name, listen: "127.0.0.1:6380", upstream: "127.0.0.1:6379", protocol: `protocol`,
                     enabled: enabled, openConnections: open, activeFaults: faults)
    }

    /// The sample lines of family `name` (a histogram's `_bucket`, `_sum` and `_count` too).
    private func samples(_ text: String, _ name: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { line in
            guard !line.hasPrefix("#") else { return false }
            let metric = line.prefix { $0 != "{" && $0 != " " }
            return metric == name || ["_bucket", "_sum", "_count"].contains { metric == name + $0 }
        }
    }

    private func render(_ events: [Event], _ proxies: [MetricsProxy]) -> String {
        let metrics = Metrics()
        events.forEach(metrics.record)
        return metrics.render(proxies: proxies)
    }

    func testConnectionsAndBytes() {
        let text = render([
            event(.connectionOpened, link: 1), event(.connectionOpened, link: 2), event(.connectionOpened, link: 3),
            event(.upstreamConnected, link: 1),
            event(.connectionClosed(bytesUp: 10, bytesDown: 200, reset: false), link: 1),
            event(.connectionClosed(bytesUp: 5, bytesDown: 7, reset: true), link: 2),
            event(.upstreamFailed(reason: "connection refused"), link: 3),
        ], [proxy("web", protocol: "http", enabled: false), proxy("redis", open: 1)])
        XCTAssertEqual(samples(text, "faultline_proxy_enabled"), [
            #"faultline_proxy_enabled{proxy="redis",listen="127.0.0.1:6380",upstream="127.0.0.1:6379",protocol="redis"} 1"#,
            #"faultline_proxy_enabled{proxy="web",listen="127.0.0.1:6380",upstream="127.0.0.1:6379",protocol="http"} 0"#,
        ])
        XCTAssertEqual(samples(text, "faultline_connections_open"),
                       [#"faultline_connections_open{proxy="redis"} 1"#, #"faultline_connections_open{proxy="web"} 0"#])
        XCTAssertEqual(samples(text, "faultline_connections_total"),
                       [#"faultline_connections_total{proxy="redis"} 3"#, #"faultline_connections_total{proxy="web"} 0"#])
        XCTAssertEqual(samples(text, "faultline_connections_closed_total"), [
            #"faultline_connections_closed_total{proxy="redis",how="fin"} 1"#,
            #"faultline_connections_closed_total{proxy="redis",how="reset"} 1"#,
            #"faultline_connections_closed_total{proxy="web",how="fin"} 0"#,
            #"faultline_connections_closed_total{proxy="web",how="reset"} 0"#,
        ])
        XCTAssertEqual(samples(text, "faultline_bytes_total"), [
            #"faultline_bytes_total{proxy="redis",direction="downstream"} 207"#,
            #"faultline_bytes_total{proxy="redis",direction="upstream"} 15"#,
            #"faultline_bytes_total{proxy="web",direction="downstream"} 0"#,
            #"faultline_bytes_total{proxy="web",direction="upstream"} 0"#,
        ])
        XCTAssertEqual(samples(text, "faultline_upstream_failures_total"),
                       [#"faultline_upstream_failures_total{proxy="redis"} 1"#, #"faultline_upstream_failures_total{proxy="web"} 0"#])
        XCTAssertTrue(text.contains("""
            # HELP faultline_bytes_total Bytes relayed: upstream (client to upstream) and downstream; a connection's bytes count once it closes.
            # TYPE faultline_bytes_total counter

            """), text)
    }

    func testFaults() {
        let text = render([
            event(.faultOn(name: "slow", kind: "latency"), link: nil),
            event(.faultApplied(name: "cut", kind: "tcp.reset"), link: 1),
            event(.faultApplied(name: "cut", kind: "tcp.reset"), link: 2),
            event(.faultFired(name: "cut", kind: "tcp.reset", action: "reset"), link: 1),
            event(.faultFired(name: "slow", kind: "latency", action: "delayed"), link: 2),
            event(.faultFired(name: "cut", kind: "tcp.reset", action: "refused"), link: 2),
            event(.faultFired(name: "cut", kind: "tcp.reset", action: "reset"), link: 3),
        ], [proxy("redis", faults: [(name: "slow", kind: "latency"), (name: "cut", kind: "tcp.reset"), (name: "slow", kind: "latency")])])
        XCTAssertEqual(samples(text, "faultline_fault_active"), [
            #"faultline_fault_active{proxy="redis",fault="cut",kind="tcp.reset"} 1"#,
            #"faultline_fault_active{proxy="redis",fault="slow",kind="latency"} 1"#,
        ])
        XCTAssertEqual(samples(text, "faultline_faults_applied_total"),
                       [#"faultline_faults_applied_total{proxy="redis",fault="cut",kind="tcp.reset"} 2"#])
        XCTAssertEqual(samples(text, "faultline_faults_fired_total"), [
            #"faultline_faults_fired_total{proxy="redis",fault="cut",kind="tcp.reset",action="refused"} 1"#,
            #"faultline_faults_fired_total{proxy="redis",fault="cut",kind="tcp.reset",action="reset"} 2"#,
            #"faultline_faults_fired_total{proxy="redis",fault="slow",kind="latency",action="delayed"} 1"#,
        ])
    }

    func testRequestsResponsesAndErrors() {
        let ms = Duration.milliseconds(1)
        let text = render([
            event(.requestStarted(detail: "GET session:42")), event(.requestStarted(detail: "get other")),
            event(.requestStarted(detail: "SET k")), event(.requestStarted(detail: "HELLO 3 AUTH")),
            event(.requestAnswered(error: nil, byFaultline: false, latency: ms, handshake: true)),
            event(.requestAnswered(error: nil, byFaultline: false, latency: ms, handshake: false)),
            event(.requestAnswered(error: "NOAUTH", byFaultline: false, latency: ms, handshake: false)),
            event(.requestAnswered(error: "LOADING", byFaultline: true, latency: ms, handshake: false)),
            event(.requestStarted(detail: "GET /"), proxy: "web"), event(.requestStarted(detail: "POST /x"), proxy: "web"),
            event(.requestStarted(detail: "GET /y"), proxy: "web"),
            event(.responseStarted(status: 200, byFaultline: false, firstByte: ms), proxy: "web"),
            event(.requestAnswered(error: nil, byFaultline: false, latency: ms, handshake: false), proxy: "web"),
            event(.responseStarted(status: 503, byFaultline: true, firstByte: ms), proxy: "web"),
            event(.requestAnswered(error: "503", byFaultline: true, latency: ms, handshake: false), proxy: "web"),
            event(.requestAbandoned, proxy: "web"),
            event(.exchangeStarted, proxy: "tcp"), event(.exchangeAnswered, proxy: "tcp"),
            event(.exchangeStarted, proxy: "tcp"), event(.exchangeAbandoned, proxy: "tcp"),
        ], [proxy("redis"), proxy("web", protocol: "http"), proxy("tcp", protocol: "tcp")])
        XCTAssertEqual(samples(text, "faultline_requests_total"), [
            #"faultline_requests_total{proxy="redis"} 4"#, #"faultline_requests_total{proxy="tcp"} 2"#,
            #"faultline_requests_total{proxy="web"} 3"#,
        ])
        XCTAssertEqual(samples(text, "faultline_requests_by_command_total"), [
            #"faultline_requests_by_command_total{proxy="redis",command="GET"} 2"#,
            #"faultline_requests_by_command_total{proxy="redis",command="HELLO"} 1"#,
            #"faultline_requests_by_command_total{proxy="redis",command="SET"} 1"#,
            #"faultline_requests_by_command_total{proxy="web",command="GET"} 2"#,
            #"faultline_requests_by_command_total{proxy="web",command="POST"} 1"#,
        ])
        XCTAssertEqual(samples(text, "faultline_responses_total"), [
            #"faultline_responses_total{proxy="redis",outcome="abandoned"} 0"#,
            #"faultline_responses_total{proxy="redis",outcome="answered"} 2"#,
            #"faultline_responses_total{proxy="redis",outcome="error"} 2"#,
            #"faultline_responses_total{proxy="tcp",outcome="abandoned"} 1"#,
            #"faultline_responses_total{proxy="tcp",outcome="answered"} 1"#,
            #"faultline_responses_total{proxy="tcp",outcome="error"} 0"#,
            #"faultline_responses_total{proxy="web",outcome="abandoned"} 1"#,
            #"faultline_responses_total{proxy="web",outcome="answered"} 1"#,
            #"faultline_responses_total{proxy="web",outcome="error"} 1"#,
        ])
        XCTAssertEqual(samples(text, "faultline_request_errors_total"), [
            #"faultline_request_errors_total{proxy="redis",error="LOADING"} 1"#,
            #"faultline_request_errors_total{proxy="redis",error="NOAUTH"} 1"#,
            #"faultline_request_errors_total{proxy="web",error="503"} 1"#,
        ])
        XCTAssertEqual(samples(text, "faultline_http_responses_total"), [
            #"faultline_http_responses_total{proxy="web",status="200",by="upstream"} 1"#,
            #"faultline_http_responses_total{proxy="web",status="503",by="faultline"} 1"#,
        ])
        // Latency: one observation per requestAnswered (HTTP's responseStarted is not a second one).
        XCTAssertEqual(samples(text, "faultline_request_latency_seconds").filter { $0.contains("_count") }, [
            #"faultline_request_latency_seconds_count{proxy="redis"} 4"#,
            #"faultline_request_latency_seconds_count{proxy="tcp"} 0"#,
            #"faultline_request_latency_seconds_count{proxy="web"} 2"#,
        ])
    }

    func testLatencyHistogram() {
        let latencies: [Duration] = [.microseconds(500), .milliseconds(1), .milliseconds(3), .milliseconds(300), .seconds(20),
                                     .nanoseconds(1_000_001)]
        let text = render(latencies.map { event(.requestAnswered(error: nil, byFaultline: false, latency: $0, handshake: false)) },
                          [proxy("redis")])
        XCTAssertEqual(samples(text, "faultline_request_latency_seconds"), [
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.001"} 2"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.005"} 4"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.01"} 4"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.025"} 4"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.05"} 4"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.1"} 4"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.25"} 4"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="0.5"} 5"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="1"} 5"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="2.5"} 5"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="5"} 5"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="10"} 5"#,
            #"faultline_request_latency_seconds_bucket{proxy="redis",le="+Inf"} 6"#,
            #"faultline_request_latency_seconds_sum{proxy="redis"} 20.305500001"#,
            #"faultline_request_latency_seconds_count{proxy="redis"} 6"#,
        ])
        XCTAssertTrue(text.contains("# TYPE faultline_request_latency_seconds histogram\n"))
    }

    func testTLSAndProtocolErrors() {
        let text = render([
            event(.tlsHandshakeCompleted(profile: "valid", version: "TLSv1.3", cipher: "c", sni: nil, alpn: nil)),
            event(.tlsHandshakeCompleted(profile: "valid", version: "TLSv1.2", cipher: "c", sni: "x", alpn: nil)),
            event(.tlsHandshakeFailed(profile: "expired", reason: "alert", alert: "certificate_expired")),
            event(.tlsHandshakeFailed(profile: "valid", reason: "not TLS", alert: nil)),
            event(.protocolError(fromClient: true, message: "m")), event(.protocolError(fromClient: true, message: "m")),
            event(.protocolError(fromClient: false, message: "m")),
        ], [proxy("redis")])
        XCTAssertEqual(samples(text, "faultline_tls_handshakes_total"), [
            #"faultline_tls_handshakes_total{proxy="redis",result="completed",profile="valid"} 2"#,
            #"faultline_tls_handshakes_total{proxy="redis",result="failed",profile="expired"} 1"#,
            #"faultline_tls_handshakes_total{proxy="redis",result="failed",profile="valid"} 1"#,
        ])
        XCTAssertEqual(samples(text, "faultline_protocol_errors_total"), [
            #"faultline_protocol_errors_total{proxy="redis",from="client"} 2"#,
            #"faultline_protocol_errors_total{proxy="redis",from="upstream"} 1"#,
        ])
    }

    func testPhaseInfoFollowsTheCurrentPhase() {
        let metrics = Metrics()
        let phase = { self.samples(metrics.render(proxies: []), "faultline_phase_info") }
        XCTAssertEqual(phase(), [])
        XCTAssertTrue(metrics.render(proxies: []).contains("# TYPE faultline_phase_info gauge\n"))
        metrics.record(event(.phaseStarted(name: "warmup"), proxy: nil, link: nil))
        XCTAssertEqual(phase(), [#"faultline_phase_info{phase="warmup"} 1"#])
        metrics.record(event(.phaseStarted(name: "outage"), proxy: nil, link: nil))
        metrics.record(event(.phaseEnded(name: "warmup"), proxy: nil, link: nil))  // not the current one
        XCTAssertEqual(phase(), [#"faultline_phase_info{phase="outage"} 1"#])
        metrics.record(event(.phaseEnded(name: "outage"), proxy: nil, link: nil))
        XCTAssertEqual(phase(), [])
    }

    /// Label values escape `\`, `"` and newline, and read back as written.
    func testLabelEscaping() throws {
        let name = "a\"b\\c\nd"
        let text = render([event(.connectionOpened, proxy: name), event(.requestStarted(detail: "Q\"\\ x"), proxy: name)],
                          [proxy(name)])
        XCTAssertEqual(samples(text, "faultline_connections_total"), [#"faultline_connections_total{proxy="a\"b\\c\nd"} 1"#])
        XCTAssertEqual(samples(text, "faultline_requests_by_command_total"),
                       [#"faultline_requests_by_command_total{proxy="a\"b\\c\nd",command="Q\"\\"} 1"#])
        let parsed = try XCTUnwrap(Exposition(text))
        let opened = parsed.samples.filter { $0.name == "faultline_connections_total" }
        XCTAssertEqual(opened.map(\.labels), [["proxy": name]])
        XCTAssertEqual(parsed.samples.first { $0.name == "faultline_requests_by_command_total" }?.labels["command"], "Q\"\\")
    }

    /// A client can't grow the label set: past 64 distinct commands per proxy the rest count as
    /// `other`, as do empty and overlong command words; known ones keep counting.
    func testCommandsAreCapped() {
        var events: [Event] = (0..<70).map { event(.requestStarted(detail: String(format: "c%02d key", $0))) }
        events.append(event(.requestStarted(detail: "C00")))  // known: still its own
        events.append(event(.requestStarted(detail: String(repeating: "X", count: 33) + " k")))
        events.append(event(.requestStarted(detail: "")))
        events.append(event(.requestStarted(detail: "GET /"), proxy: "web"))  // another proxy has its own 64
        let text = render(events, [proxy("redis"), proxy("web", protocol: "http")])
        let lines = samples(text, "faultline_requests_by_command_total")
        XCTAssertEqual(lines.count, 64 + 1 + 1)
        XCTAssertEqual(lines.first, #"faultline_requests_by_command_total{proxy="redis",command="C00"} 2"#)
        XCTAssertTrue(lines.contains(#"faultline_requests_by_command_total{proxy="redis",command="C63"} 1"#))
        XCTAssertFalse(lines.contains { $0.contains(#"command="C64""#) })
        XCTAssertTrue(lines.contains(#"faultline_requests_by_command_total{proxy="redis",command="other"} 8"#))
        XCTAssertEqual(lines.last, #"faultline_requests_by_command_total{proxy="web",command="GET"} 1"#)
        XCTAssertEqual(samples(text, "faultline_requests_total").first, #"faultline_requests_total{proxy="redis"} 73"#)
        let longest = "GEORADIUSBYMEMBER_ro_abc"  // 24 bytes: all three packed integers
        XCTAssertEqual(CommandWord(longest + " k")?.text, longest.uppercased())
        XCTAssertNil(CommandWord(longest + "d"))
        XCTAssertEqual(CommandWord("hello 3 AUTH")?.text, "HELLO")
        XCTAssertEqual(CommandWord("GET")?.text, "GET")
        XCTAssertEqual(CommandWord("éclair x")?.text, "éCLAIR")
        XCTAssertNil(CommandWord(" GET"))
        XCTAssertNil(CommandWord("G\0ET"))
        XCTAssertNotEqual(CommandWord("ABCDEFGH1"), CommandWord("ABCDEFGH2"))
    }

    func testErrorsAreCapped() {
        let ms = Duration.milliseconds(1)
        let events = (0..<66).map { event(.requestAnswered(error: "E\($0)", byFaultline: false, latency: ms, handshake: false)) }
        let lines = samples(render(events, [proxy("redis")]), "faultline_request_errors_total")
        XCTAssertEqual(lines.count, 65)
        XCTAssertTrue(lines.contains(#"faultline_request_errors_total{proxy="redis",error="other"} 2"#))
    }

    /// Only the proxies given are rendered; `forget` drops a deleted proxy's counters.
    func testProxiesNotListedAreLeftOutAndForgotten() {
        let metrics = Metrics()
        metrics.record(event(.connectionOpened, proxy: "gone"))
        metrics.record(event(.connectionOpened, proxy: "redis"))
        XCTAssertFalse(metrics.render(proxies: [proxy("redis")]).contains("gone"))
        XCTAssertTrue(metrics.render(proxies: [proxy("gone")]).contains(#"faultline_connections_total{proxy="gone"} 1"#))
        metrics.forget(proxy: "gone")
        XCTAssertTrue(metrics.render(proxies: [proxy("gone")]).contains(#"faultline_connections_total{proxy="gone"} 0"#))
        metrics.record(event(.connectionOpened, proxy: "redis"))  // the cached proxy survives a forget of another
        XCTAssertTrue(metrics.render(proxies: [proxy("redis")]).contains(#"faultline_connections_total{proxy="redis"} 2"#))
        metrics.forget(proxy: "redis")
        metrics.record(event(.connectionOpened, proxy: "redis"))
        XCTAssertTrue(metrics.render(proxies: [proxy("redis")]).contains(#"faultline_connections_total{proxy="redis"} 1"#))
    }

    /// A run's worth of events in either order renders the same text, families in a fixed order.
    func testOutputIsDeterministic() throws {
        let events = Self.busyRun
        let text = render(events, [proxy("web", protocol: "http"), proxy("redis")])
        XCTAssertEqual(render(events.reversed(), [proxy("redis"), proxy("web", protocol: "http")]), text)
        let parsed = try XCTUnwrap(Exposition(text))
        XCTAssertEqual(parsed.families.map(\.name), Self.familyOrder)
        XCTAssertEqual(parsed.families.map(\.type), [
            "gauge", "gauge", "counter", "counter", "counter", "counter", "gauge", "counter", "counter",
            "counter", "counter", "counter", "counter", "counter", "histogram", "counter", "counter", "gauge",
        ])
    }

    /// The text parses with Prometheus's own Python parser (Tests/clients/prometheus_parse.py).
    func testPrometheusClientParsesTheText() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("clients/prometheus_parse.py")
        guard run(["python3", "-c", "import prometheus_client"], input: "").status == 0 else {
            throw XCTSkip("python3 with prometheus_client is not installed (pip install -r Tests/clients/requirements.txt)")
        }
        let name = "we\"ird\\\nname"
        let text = render(Self.busyRun + [event(.connectionOpened, proxy: name)], [proxy("web", protocol: "http"), proxy("redis"), proxy(name)])
        let parsed = run(["python3", script.path], input: text)
        XCTAssertEqual(parsed.status, 0, parsed.output)
        let families = parsed.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(families.count, Self.familyOrder.count, parsed.output)
        // The parser drops a counter's `_total`; its sample count is the series count.
        XCTAssertTrue(families.contains(["faultline_connections", "counter", "3"]), parsed.output)
        XCTAssertTrue(families.contains(["faultline_request_latency_seconds", "histogram", "45"]), parsed.output)
        XCTAssertTrue(families.contains(["faultline_phase_info", "gauge", "1"]), parsed.output)
        // Broken text fails it: the script's exit status means something.
        XCTAssertEqual(run(["python3", script.path], input: "faultline_x{proxy=\"a} 1\n").status, 1)
    }

    /// Runs `arguments` through the shell with `input` on stdin. Not Foundation's Process: its
    /// `run()` leaks a weak-reference side table, which LeakSanitizer reports under `--asan`.
    private func run(_ arguments: [String], input: String) -> (status: Int32, output: String) {
        let base = NSTemporaryDirectory() + "faultline-metrics-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(base + ".in"); unlink(base + ".out") }
        guard FileManager.default.createFile(atPath: base + ".in", contents: Data(input.utf8)) else { return (-1, "cannot write \(base).in") }
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let status = system("/usr/bin/env \(quoted) < '\(base).in' > '\(base).out' 2>&1")
        let output = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        return (status >= 0 && status & 0x7F == 0 ? (status >> 8) & 0xFF : -1, output)
    }

    static let familyOrder = [
        "faultline_proxy_enabled", "faultline_connections_open", "faultline_connections_total",
        "faultline_connections_closed_total", "faultline_bytes_total", "faultline_upstream_failures_total",
        "faultline_fault_active", "faultline_faults_applied_total", "faultline_faults_fired_total",
        "faultline_requests_total", "faultline_requests_by_command_total", "faultline_responses_total",
        "faultline_request_errors_total", "faultline_http_responses_total", "faultline_request_latency_seconds",
        "faultline_tls_handshakes_total", "faultline_protocol_errors_total", "faultline_phase_info",
    ]

    /// Every kind on two proxies, and a phase running at the end.
    static var busyRun: [Event] {
        let ms = Duration.milliseconds(1)
        var events: [Event] = [Event(time: .zero, proxy: nil, link: nil, kind: .phaseStarted(name: "outage"))]
        for (proxy, link) in [("redis", UInt64(1)), ("web", 1), ("redis", 2)] {
            let kinds: [Event.Kind] = [
                .connectionOpened, .upstreamConnected,
                .tlsHandshakeCompleted(profile: "valid", version: "TLSv1.3", cipher: "c", sni: nil, alpn: nil),
                .tlsHandshakeFailed(profile: "expired", reason: "r", alert: nil),
                .faultApplied(name: "cut", kind: "tcp.reset"), .faultFired(name: "cut", kind: "tcp.reset", action: "reset"),
                .requestStarted(detail: proxy == "web" ? "GET /" : "GET k"), .exchangeStarted,
                .responseStarted(status: 200, byFaultline: false, firstByte: ms),
                .requestAnswered(error: nil, byFaultline: false, latency: ms, handshake: false),
                .requestAnswered(error: "ERR", byFaultline: true, latency: .seconds(2), handshake: false),
                .requestAbandoned, .exchangeAnswered, .exchangeAbandoned,
                .protocolError(fromClient: false, message: "m"), .upstreamFailed(reason: "r"),
                .connectionClosed(bytesUp: 3, bytesDown: 4, reset: link == 2),
            ]
            events += kinds.map { Event(time: .seconds(1), proxy: proxy, link: link, kind: $0) }
        }
        return events
    }
}

/// A strict reader of the text exposition format 0.0.4, as far as faultline writes it: `# HELP`
/// then `# TYPE` before a family's samples, each family once, metric and label names by the
/// format's grammar, label values with only `\\`, `\"` and `\n` escapes, values as Go floats,
/// no series twice, histogram buckets cumulative and ending at `+Inf` = `_count`.
struct Exposition {
    struct Family { let name, type: String }
    struct Sample { let name: String; let labels: [String: String]; let value: Double }

    private(set) var families: [Family] = []
    private(set) var samples: [Sample] = []

    /// Nil (and an XCTFail naming the line) when `text` breaks the format.
    init?(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try read(text)
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private mutating func read(_ text: String) throws {
        guard text.hasSuffix("\n") else { throw Failure(description: "the text does not end with a newline") }
        var help: String?
        var seriesSeen = Set<String>()
        for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let fail = { (why: String) in Failure(description: "\(why): \(line)") }
            if line.hasPrefix("# HELP ") {
                let name = String(line.dropFirst(7).prefix { $0 != " " })
                guard Self.isName(name, colons: true), !families.contains(where: { $0.name == name }) else { throw fail("bad or repeated HELP") }
                help = name
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, parts[0] == help, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1])
                else { throw fail("TYPE without its HELP, or a bad type") }
                families.append(Family(name: parts[0], type: parts[1]))
                help = nil
            } else {
                var scalars = Substring(line).unicodeScalars[...]
                let name = String(String.UnicodeScalarView(scalars.prefix { $0 != "{" && $0 != " " }))
                scalars = scalars.dropFirst(name.unicodeScalars.count)
                guard Self.isName(name, colons: true), let family = families.last else { throw fail("bad metric name") }
                let suffixes = family.type == "histogram" ? ["_bucket", "_sum", "_count"] : [""]
                guard suffixes.contains(where: { family.name + $0 == name }) else { throw fail("sample outside its family") }
                var labels: [String: String] = [:]
                var labelText = ""
                if scalars.first == "{" {
                    scalars = scalars.dropFirst()
                    while scalars.first != "}" {
                        let label = String(String.UnicodeScalarView(scalars.prefix { $0 != "=" }))
                        scalars = scalars.dropFirst(label.unicodeScalars.count)
                        guard Self.isName(label, colons: false), labels[label] == nil, scalars.popFirst() == "=",
                              scalars.popFirst() == "\"" else { throw fail("bad label") }
                        var value = ""
                        while true {
                            guard let scalar = scalars.popFirst(), scalar != "\n" else { throw fail("unterminated label value") }
                            if scalar == "\"" { break }
                            if scalar == "\\" {
                                switch scalars.popFirst() {
                                case "\\": value += "\\"
                                case "\"": value += "\""
                                case "n": value += "\n"
                                default: throw fail("bad escape")
                                }
                            } else {
                                value.unicodeScalars.append(scalar)
                            }
                        }
                        labels[label] = value
                        labelText += "\(label)=\(value.debugDescription),"
                        if scalars.first == "," { scalars = scalars.dropFirst() } else if scalars.first != "}" { throw fail("bad label list") }
                    }
                    scalars = scalars.dropFirst()
                }
                guard scalars.popFirst() == " " else { throw fail("no space before the value") }
                let valueText = String(String.UnicodeScalarView(scalars))
                guard let value = ["+Inf": Double.infinity, "-Inf": -Double.infinity, "NaN": Double.nan][valueText] ?? Double(valueText),
                      valueText.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }) || !value.isFinite
                else { throw fail("bad value") }
                guard seriesSeen.insert(name + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")).inserted
                else { throw fail("series repeated") }
                samples.append(Sample(name: name, labels: labels, value: value))
            }
        }
        guard help == nil else { throw Failure(description: "HELP without TYPE at the end") }
        try checkHistograms()
    }

    private func checkHistograms() throws {
        for family in families where family.type == "histogram" {
            let buckets = Dictionary(grouping: samples.filter { $0.name == family.name + "_bucket" }) {
                $0.labels.filter { $0.key != "le" }
            }
            for (labels, series) in buckets {
                let counts = series.map(\.value)
                guard series.last?.labels["le"] == "+Inf", counts == counts.sorted(),
                      samples.first(where: { $0.name == family.name + "_count" && $0.labels == labels })?.value == counts.last
                else { throw Failure(description: "histogram \(family.name) \(labels): buckets not cumulative up to +Inf = _count") }
            }
        }
    }

    private static func isName(_ name: String, colons: Bool) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || (colons && $0 == ":")
        }
    }
}
