import Faultline
import Foundation
import XCTest

/// docs/faults.md quotes `faultline faults`; this keeps the two identical.
final class FaultCatalogDocTests: XCTestCase {
    func testDocsQuoteTheCatalogue() throws {
        let docs = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/faults.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        guard let start = text.range(of: "```text\n"), let end = text.range(of: "\n```", range: start.upperBound..<text.endIndex) else {
            return XCTFail("docs/faults.md has no ```text block")
        }
        XCTAssertEqual(String(text[start.upperBound..<end.lowerBound]), FaultCatalog.text(),
                       "docs/faults.md is stale: run scripts/gen-docs")
    }
}
