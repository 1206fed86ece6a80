import Faultline
import Foundation
import XCTest

/// docs/scenarios.md is generated from the loader's own key lists; these keep it so, and keep
/// every example it shows loadable.
final class ScenarioDocTests: XCTestCase {
    private static let docsURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/scenarios.md")

    private func docs() throws -> String { try String(contentsOf: Self.docsURL, encoding: .utf8) }

    /// The generated block equals `ScenarioReference.markdown()`. With
    /// FAULTLINE_UPDATE_DOCS=1 the test writes it instead (then fails once, to say so).
    func testDocsQuoteTheGeneratedReference() throws {
        let text = try docs()
        guard let begin = text.range(of: ScenarioReference.beginMarker + "\n"),
              let end = text.range(of: ScenarioReference.endMarker, range: begin.upperBound..<text.endIndex) else {
            return XCTFail("docs/scenarios.md lacks the generated-block markers")
        }
        let generated = ScenarioReference.markdown() + "\n"
        let current = String(text[begin.upperBound..<end.lowerBound])
        guard current != generated else { return }
        if ProcessInfo.processInfo.environment["FAULTLINE_UPDATE_DOCS"] == "1" {
            try (String(text[..<begin.upperBound]) + generated + String(text[end.lowerBound...]))
                .write(to: Self.docsURL, atomically: true, encoding: .utf8)
            return XCTFail("docs/scenarios.md was stale and has been rewritten; run the tests again")
        }
        XCTFail("docs/scenarios.md is stale: run FAULTLINE_UPDATE_DOCS=1 swift test --filter ScenarioDocTests")
    }

    func testDocsNameEveryKeyAndExpectation() throws {
        let text = try docs()
        for section in Scenario.schema {
            for key in section.keys {
                XCTAssertTrue(text.contains("| `\(key.name)` |"), "docs/scenarios.md lacks key '\(key.name)' of \(section.title)")
            }
        }
        for kind in ExpectationSpec.kinds {
            XCTAssertTrue(text.contains("#### `\(kind.name)`"), "docs/scenarios.md lacks expectation '\(kind.name)'")
            for parameter in kind.parameters {
                XCTAssertTrue(text.contains("| `\(parameter.name)` |"), "docs lack \(kind.name)'s parameter '\(parameter.name)'")
            }
        }
    }

    /// Every whole scenario shown in a ```yaml block loads without an error.
    func testDocExamplesLoad() throws {
        let blocks = try docs().components(separatedBy: "```yaml\n").dropFirst()
            .compactMap { $0.components(separatedBy: "\n```").first }
            .filter { $0.contains("proxies:") }
        XCTAssertFalse(blocks.isEmpty)
        for block in blocks {
            XCTAssertNoThrow(try ScenarioLoader.load(yaml: block, file: "docs/scenarios.md"))
        }
    }

    /// Each expectation's own example (which docs quote) loads inside a scenario that has the
    /// proxies and phases the examples name.
    func testExpectationExamplesLoad() throws {
        let head = """
            proxies:
              redis: { listen: 127.0.0.1:16379, upstream: 127.0.0.1:6379, protocol: redis }
              api: { listen: 127.0.0.1:18080, upstream: 127.0.0.1:8080 }
              memory: { listen: 127.0.0.1:18081, upstream: 127.0.0.1:8081, protocol: http }
              tracing: { listen: 127.0.0.1:18443, upstream: 127.0.0.1:8443, tls: { profile: incomplete_chain } }
            timeline:
              - { phase: healthy, for: 5s }
              - { phase: outage, for: 30s }
              - { phase: recovery, for: 20s }
            expect:

            """
        for kind in ExpectationSpec.kinds {
            let example = kind.example.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n")
            do {
                let scenario = try ScenarioLoader.load(yaml: head + example + "\n", file: kind.name)
                XCTAssertEqual(scenario.expectations.map(\.spec.kind), [kind.name])
            } catch {
                XCTFail("\(kind.name)'s example does not load:\n\(error)")
            }
        }
    }
}
