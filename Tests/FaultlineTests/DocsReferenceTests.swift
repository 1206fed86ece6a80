import Faultline
import Foundation
import XCTest

/// The files a user reads (README.md, docs/*.md, examples/README.md and the example clients,
/// the comment blocks of scenarios/*.yaml) must work from a fresh clone: every path and script they name exists in
/// the repository, every relative link resolves, nothing points outside the repository, and
/// each `faultline run` command they show talks to the scenario's own ports for long enough.
final class DocsReferenceTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Top-level folders of the repository: a token starting with one of them is a path.
    private static let topFolders = ["examples/", "scripts/", "scenarios/", "docs/", "bench/", "Sources/", "Tests/", ".ci/"]

    private struct Line {
        let file: String
        let number: Int
        let text: String
        var place: String { "\(file):\(number)" }
    }

    /// The user-facing files, relative to the root; scenario files contribute their comments only.
    /// (`faultline run --help` is left out: its second example runs a script of the user's own.)
    private func userFiles() throws -> [String] {
        let names = { (folder: String, suffix: String) throws -> [String] in
            try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent(folder).path)
                .filter { $0.hasSuffix(suffix) }.sorted().map { "\(folder)/\($0)" }
        }
        return ["README.md", "examples/README.md"] + (try names("docs", ".md")) + (try names("examples", ".py"))
            + (try names("scenarios", ".yaml"))
    }

    private func lines(of file: String) throws -> [Line] {
        let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        let all = text.components(separatedBy: "\n").enumerated().map { Line(file: file, number: $0.offset + 1, text: $0.element) }
        if file.hasSuffix(".yaml") { return all.filter { $0.text.trimmingCharacters(in: .whitespaces).hasPrefix("#") } }
        // ```text blocks show what faultline prints (`scenarios/broken.yaml:3:1: …`), not
        // commands to run; every other line counts.
        var inOutput = false
        return all.filter { line in
            let trimmed = line.text.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inOutput = !inOutput && trimmed == "```text"
                return false
            }
            return !inOutput
        }
    }

    private func allLines() throws -> [Line] { try userFiles().flatMap { try lines(of: $0) } }

    /// Whether `path` (relative to `folder`, `*` allowed in its last part) names something.
    private func exists(_ path: String, from folder: URL) -> Bool {
        let url = folder.appendingPathComponent(path).standardizedFileURL
        guard url.lastPathComponent.contains("*") else { return FileManager.default.fileExists(atPath: url.path) }
        let pattern = "^" + NSRegularExpression.escapedPattern(for: url.lastPathComponent)
            .replacingOccurrences(of: "\\*", with: ".*") + "$"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)) ?? []
        return names.contains { $0.range(of: pattern, options: .regularExpression) != nil }
    }

    /// Words of a line that name repository files: `scripts/test`, `scenarios/*.yaml`,
    /// `examples/x.py`, and any `*.py` or `*.sh` (a script a command runs).
    private func pathTokens(_ text: String) -> [String] {
        let separators = CharacterSet.whitespaces.union(CharacterSet(charactersIn: "`()[]<>\"',|=;"))
        return text.components(separatedBy: separators).compactMap { word in
            let token = word.trimmingCharacters(in: CharacterSet(charactersIn: ".:"))
                .replacingOccurrences(of: "^\\./", with: "", options: .regularExpression)
            guard !token.isEmpty, !token.contains("://"), !token.hasPrefix("/"), !token.contains("$") else { return nil }
            if Self.topFolders.contains(where: { token.hasPrefix($0) }) { return token }
            return token.hasSuffix(".py") || token.hasSuffix(".sh") ? token : nil
        }
    }

    func testNamedPathsExist() throws {
        var missing: [String] = []
        for line in try allLines() {
            let folder = Self.root.appendingPathComponent(line.file).deletingLastPathComponent()
            for token in pathTokens(line.text) where !exists(token, from: Self.root) && !exists(token, from: folder) {
                missing.append("\(line.place): '\(token)' is not in the repository")
            }
        }
        XCTAssertEqual(missing, [], "\n" + missing.joined(separator: "\n"))
    }

    func testMarkdownLinksResolve() throws {
        var broken: [String] = []
        let link = try NSRegularExpression(pattern: #"\]\(([^)\s]+)\)"#)
        for line in try allLines() where line.file.hasSuffix(".md") {
            let text = line.text as NSString
            for match in link.matches(in: line.text, range: NSRange(location: 0, length: text.length)) {
                let target = text.substring(with: match.range(at: 1)).components(separatedBy: "#")[0]
                guard !target.isEmpty, !target.contains(":") else { continue }  // anchors, http:, mailto:
                let folder = Self.root.appendingPathComponent(line.file).deletingLastPathComponent()
                if !exists(target, from: folder) { broken.append("\(line.place): link to '\(target)' does not resolve") }
            }
        }
        XCTAssertEqual(broken, [], "\n" + broken.joined(separator: "\n"))
    }

    /// Users clone the repository alone: nothing may send them to the team's shared folder.
    func testNothingPointsOutsideTheRepository() throws {
        let outside = try userFiles().flatMap { try lines(of: $0) }
            .filter { $0.text.contains("../shared") || $0.text.contains("/work/") }
            .map { "\($0.place): \($0.text.trimmingCharacters(in: .whitespaces))" }
        XCTAssertEqual(outside, [], "\n" + outside.joined(separator: "\n"))
    }

    /// `faultline run scenarios/NAME.yaml -- … --port N --duration S`: N is a port the
    /// scenario listens on and S covers its timeline (the run would otherwise judge a client
    /// that already left); `redis-server --port N` in a scenario's comment is its upstream.
    func testRunCommandsMatchTheirScenarios() throws {
        var wrong: [String] = []
        let scenarios = try userFiles().filter { $0.hasSuffix(".yaml") }
        var loaded: [String: Scenario] = [:]
        for file in scenarios { loaded[file] = try ScenarioLoader.load(path: Self.root.appendingPathComponent(file).path) }
        var commands = 0
        for line in try allLines() {
            let words = line.text.split(separator: " ").map(String.init)
            func value(after flag: String) -> String? { words.firstIndex(of: flag).flatMap { words.indices.contains($0 + 1) ? words[$0 + 1] : nil } }
            if let run = words.firstIndex(of: "run"), run > 0, words[run - 1] == "faultline", words.indices.contains(run + 1),
               let scenario = loaded[words[run + 1]], words.contains("--") {
                commands += 1
                let ports = scenario.proxies.map { "\($0.listen.port)" }
                if let port = value(after: "--port"), !ports.contains(port) {
                    wrong.append("\(line.place): --port \(port), but \(words[run + 1]) listens on \(ports.joined(separator: ", "))")
                }
                let timeline = scenario.timeline.reduce(Duration.zero) { $0 + $1.duration }
                if let text = value(after: "--duration"), let seconds = Double(text), Duration.milliseconds(Int(seconds * 1000)) < timeline {
                    wrong.append("\(line.place): --duration \(text) ends before the \(timeline) timeline of \(words[run + 1])")
                }
            }
            if let scenario = loaded[line.file], words.contains("redis-server"), let port = value(after: "--port"),
               !scenario.proxies.map({ "\($0.upstream.port)" }).contains(port) {
                wrong.append("\(line.place): redis-server --port \(port) is not an upstream of \(line.file)")
            }
        }
        XCTAssertGreaterThan(commands, 0, "no faultline run command found in the user-facing files")
        XCTAssertEqual(wrong, [], "\n" + wrong.joined(separator: "\n"))
    }

    /// README's package list is what scripts/setup installs: both apt lists, the examples'
    /// Python packages and the test-only clients (the pins of what those bring in, after the
    /// "# Pinned" comment, are not named); the tests install the examples' list too.
    func testReadmeListsWhatSetupInstalls() throws {
        func read(_ path: String) throws -> String { try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8) }
        let readme = try read("README.md")
        let apt = try (read("scripts/apt-build.txt") + "\n" + read("scripts/apt-test.txt")).split(separator: "\n")
        let testLines = try read("Tests/clients/requirements.txt").split(separator: "\n").map(String.init)
        XCTAssertEqual(testLines.first, "-r ../../examples/requirements.txt",
                       "Tests/clients/requirements.txt must install the examples' packages first")
        let named = testLines.prefix { !$0.hasPrefix("# Pinned") }.filter { !$0.hasPrefix("#") && !$0.hasPrefix("-r") }
        let examples = try read("examples/requirements.txt").split(separator: "\n").map(String.init)
        let pip = (examples + named).map { $0.components(separatedBy: "==")[0] }
        for package in apt.map(String.init) + pip where !readme.contains("`\(package)`") {
            XCTFail("README.md does not name `\(package)`, which scripts/setup installs")
        }
        XCTAssertTrue(readme.contains("Tests/clients/requirements.txt"), "README.md does not say where the pip packages come from")
        for line in testLines where !line.hasPrefix("#") && !line.hasPrefix("-r") {
            XCTAssertTrue(line.contains("=="), "Tests/clients/requirements.txt: \(line) is not pinned with ==")
        }
    }
}
