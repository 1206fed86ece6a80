import Foundation
import Yams

/// Reads a scenario file into a `Scenario`, or into every mistake it has.
///
/// The file is composed into YAML nodes (which keep their line and column) and walked once;
/// each problem is recorded and the walk goes on, so `faultline check` shows all of them as
/// `file:line:col: message`. Names are checked across the file: a fault's or an
/// expectation's `proxy:`, an expectation's `during:`/`after:`.
public enum ScenarioLoader {
    /// Loads the file at `path`; errors name the file as `path` is written.
    public static func load(path: String) throws(ScenarioErrors) -> Scenario {
        let text: String
        do {
            text = try readText(path)
        } catch {
            throw ScenarioErrors(issues: [ScenarioIssue(file: path, position: nil, message: error.message)])
        }
        return try load(yaml: text, file: path)
    }

    /// Loads `yaml` as if read from `file` (used in messages and for the default name).
    public static func load(yaml: String, file: String) throws(ScenarioErrors) -> Scenario {
        let composed = YAMLComposer.compose(yaml)
        let reader = NodeReader(file: file, ignoredKeys: composed.ignoredKeys)
        composed.issues.forEach { reader.report($0.position, $0.message) }
        let stopped = composed.root == nil && !composed.issues.isEmpty
        let builder = ScenarioBuilder(reader: reader, defaultName: defaultName(file))
        let scenario = stopped ? nil : builder.build(composed.root)
        guard let scenario, reader.issues.isEmpty else { throw ScenarioErrors(issues: reader.sortedIssues) }
        return scenario
    }

    private struct ReadError: Error { let message: String }

    private static func readText(_ path: String) throws(ReadError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ReadError(message: "no such file")
        }
        guard !isDirectory.boolValue else { throw ReadError(message: "is a directory, not a scenario file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ReadError(message: "cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw ReadError(message: "not UTF-8 text") }
        return text
    }

    /// `scenarios/startup-race.yaml` → `startup-race`.
    private static func defaultName(_ file: String) -> String {
        let base = file.split(separator: "/").last.map(String.init) ?? file
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return base }
        return String(base[..<dot])
    }
}

extension Scenario {
    /// `2 proxies, 3 phases (55s), 2 faults, 2 expectations`, for `faultline check`.
    public var summary: String {
        func count(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }
        return "\(count(proxies.count, "proxy", "proxies")), \(count(timeline.count, "phase", "phases")) "
            + "(\(DurationText.format(duration))), \(count(allFaults.count, "fault", "faults")), "
            + count(expectations.count, "expectation", "expectations")
    }
}

/// One walk over one file's nodes. Names of proxies and phases are kept even when their entry
/// has errors, so a reference to them is not reported a second time as unknown.
final class ScenarioBuilder {
    let reader: NodeReader
    let defaultName: String
    /// Every key under `proxies:`, in order.
    var proxyNames: [String] = []
    /// Whether `proxies:` could be read as a mapping; if not, references to proxies are not
    /// checked (every one would be "unknown" because of the one mistake already reported).
    var proxiesKnown = false
    /// The same for `timeline:` and phase names.
    var phasesKnown = false
    /// The protocol of each proxy whose `protocol:` could be read.
    var proxyProtocols: [String: ProxyProtocol] = [:]
    /// Proxies with a `tls:` key.
    var tlsProxies: Set<String> = []
    /// Every phase name with where it was first given.
    var phaseNames: [(name: String, position: SourcePosition)] = []

    init(reader: NodeReader, defaultName: String) {
        self.reader = reader
        self.defaultName = defaultName
    }

    func build(_ root: Node?) -> Scenario? {
        guard let root, !reader.isNull(root) else {
            reader.report(SourcePosition(line: 1, column: 1), "the file is empty: a scenario needs at least proxies and timeline")
            return nil
        }
        guard let entries = reader.mapping(root, "scenario", expected: "a mapping with proxies and timeline") else { return nil }
        reader.checkKeys(entries, allowed: ScenarioSchema.top.keyNames, in: ScenarioSchema.top.noun)
        func entry(_ key: String) -> NodeReader.Entry? { entries.first { $0.key == key } }

        let name = entry("name").flatMap { reader.text($0.value, "name") } ?? defaultName
        let description = entry("description").flatMap { reader.text($0.value, "description") }
        let seed = entry("seed").flatMap { reader.seed($0.value, "seed") }
        // Proxies first and then phases, whatever the file's order: faults and expectations
        // refer to both.
        let proxies = readProxies(reader.entry("proxies", in: entries, of: root, required: "the proxies to start, by name"))
        let timeline = readTimeline(reader.entry("timeline", in: entries, of: root, required: "the phases to play, in order"))
        let wholeRun = entry("faults").map { readFaults($0.value) } ?? []
        checkFaultNames(wholeRun: wholeRun, phases: timeline.map(\.faults))
        let expectations = entry("expect").map { readExpectations($0.value) } ?? []
        return Scenario(name: name, description: description, seed: seed, proxies: proxies, timeline: timeline,
                        faults: wholeRun, expectations: expectations)
    }

    // MARK: proxies

    private func readProxies(_ entry: NodeReader.Entry?) -> [ScenarioProxy] {
        guard let entry,
              let items = reader.mapping(entry.value, "proxies", expected: "a mapping of proxy names to proxies") else { return [] }
        proxiesKnown = true
        if items.isEmpty { reader.report(entry.keyNode, "proxies: expected at least one proxy") }
        var proxies: [ScenarioProxy] = []
        for item in items {
            proxyNames.append(item.key)
            if let proxy = readProxy(item, after: proxies) { proxies.append(proxy) }
        }
        return proxies
    }

    private func readProxy(_ item: NodeReader.Entry, after earlier: [ScenarioProxy]) -> ScenarioProxy? {
        let what = "proxy '\(item.key)'"
        guard let fields = reader.mapping(item.value, what, expected: "a mapping with listen and upstream") else { return nil }
        reader.checkKeys(fields, allowed: ScenarioSchema.proxy.keyNames, in: what)
        func field(_ key: String) -> NodeReader.Entry? { fields.first { $0.key == key } }
        let listenEntry = reader.entry("listen", in: fields, of: item.keyNode, required: "where clients connect, e.g. 127.0.0.1:16379")
        let listen = listenEntry.flatMap { reader.address($0.value, "listen") }
        let upstream = reader.entry("upstream", in: fields, of: item.keyNode, required: "where the proxy forwards, e.g. 127.0.0.1:6379")
            .flatMap { reader.address($0.value, "upstream", upstream: true) }
        var proto: ProxyProtocol? = .tcp
        if let protocolEntry = field("protocol") {
            proto = readProtocol(protocolEntry.value)
        }
        proxyProtocols[item.key] = proto
        let tls = field("tls").flatMap { readRawMapping($0, "tls") }
        let upstreamTLS = field("upstream_tls").flatMap { readRawMapping($0, "upstream_tls") }
        if field("tls") != nil { tlsProxies.insert(item.key) }
        if let listen, let listenEntry, listen.port != 0, let other = earlier.first(where: { $0.listen == listen }) {
            reader.report(listenEntry.value, "listen: \(listen) is already where proxy '\(other.name)' listens")
        }
        guard let listen, let upstream, let proto else { return nil }
        return ScenarioProxy(name: item.key, listen: listen, upstream: upstream, protocol: proto, tls: tls,
                             upstreamTLS: upstreamTLS, position: reader.position(item.keyNode))
    }

    private func readProtocol(_ node: Node) -> ProxyProtocol? {
        let names = ProxyProtocol.allCases.map(\.rawValue)
        guard let text = reader.text(node, "protocol", expected: Suggestion.list(names)) else { return nil }
        do {
            return try ProxyProtocol.parse(text)
        } catch {
            reader.report(node, "protocol: \(error)")
            return nil
        }
    }

    /// `tls:`-like keys: checked to be mappings, kept as written for the layer that types them.
    private func readRawMapping(_ entry: NodeReader.Entry, _ what: String) -> YAMLValue? {
        guard reader.mapping(entry.value, what) != nil else { return nil }
        return reader.raw(entry.value)
    }

    // MARK: references

    /// The proxy named by `proxy:`, or the only proxy; reports an unknown or missing one.
    func proxyReference(_ entry: NodeReader.Entry?, owner node: Node) -> String? {
        if let entry {
            guard let name = reader.text(entry.value, "proxy", expected: "a proxy name") else { return nil }
            guard !proxiesKnown || proxyNames.contains(name) else {
                reader.report(entry.value, "unknown proxy '\(name)'\(Suggestion.hint(for: name, in: proxyNames))")
                return nil
            }
            return name
        }
        guard proxyNames.count > 1 else { return proxyNames.first }
        reader.report(node, "missing key 'proxy' (the scenario has \(proxyNames.count) proxies: "
                      + "\(Suggestion.list(proxyNames, conjunction: "and")))")
        return nil
    }

    /// The phase named at `node` (`during:`, `after:`); reports an unknown one.
    func phaseReference(_ node: Node, _ what: String) -> String? {
        guard let name = reader.text(node, what, expected: "a phase name") else { return nil }
        let names = phaseNames.map(\.name)
        guard !phasesKnown || names.contains(name) else {
            reader.report(node, "\(what): unknown phase '\(name)'\(Suggestion.hint(for: name, in: names))")
            return nil
        }
        return name
    }
}
