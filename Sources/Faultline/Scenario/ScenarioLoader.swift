import Foundation
import Glibc
import Yams

/// Reads a scenario file into a `Scenario`, or into every mistake it has.
///
/// The file is composed into YAML nodes (which keep their line and column) and walked once;
/// each problem is recorded and the walk goes on, so `faultline check` shows all of them as
/// `file:line:col: message`. Names are checked across the file: a fault's or an
/// expectation's `proxy:`, an expectation's `during:`/`after:`.
public enum ScenarioLoader {
    /// The most a scenario holds, in bytes (4 MB): hundreds of times any hand-written one, and
    /// small enough to check in about a second. Larger input is refused before it is parsed.
    public static let maximumSize = 4 << 20

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
        guard yaml.utf8.count <= maximumSize else {
            throw ScenarioErrors(issues: [ScenarioIssue(file: file, position: nil, message: tooLarge(bytes: yaml.utf8.count))])
        }
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
        // The system's reason for a failure (Permission denied, Not a directory) is the user's
        // way to the fix; "no such file" stays as short as it is clear.
        func failure(_ code: Int32) -> ReadError {
            ReadError(message: code == ENOENT ? "no such file" : "cannot read the file: \(String(cString: strerror(code)))")
        }
        var status = stat()
        guard stat(path, &status) == 0 else { throw failure(errno) }
        guard status.st_mode & S_IFMT != S_IFDIR else { throw ReadError(message: "is a directory, not a scenario file") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(errno) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        // One byte past the limit is enough to refuse; a pipe or a device may never end.
        var data = Data()
        do {
            while data.count <= maximumSize, let chunk = try handle.read(upToCount: maximumSize + 1 - data.count), !chunk.isEmpty {
                data.append(chunk)
            }
        } catch {
            throw ReadError(message: "cannot read the file: \(error.localizedDescription)")
        }
        guard data.count <= maximumSize else {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            throw ReadError(message: tooLarge(bytes: size))
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ReadError(message: "not UTF-8 text") }
        return text
    }

    /// The refusal of input over `maximumSize`; `bytes` is its size when known.
    private static func tooLarge(bytes: Int?) -> String {
        let size = bytes.flatMap { $0 > maximumSize ? String(format: "%.1f MB", Double($0) / Double(1 << 20)) : nil }
        return "\(size.map { "the file is \($0)" } ?? "the file holds more than 4 MB"): "
            + "a scenario file may hold at most 4 MB (\(maximumSize) bytes)"
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
    /// Every key under `proxies:`, in order (for suggestions and messages).
    var proxyNames: [String] = []
    /// The same names, for lookups: a file may have thousands of faults naming proxies.
    var proxyNameSet: Set<String> = []
    /// Whether `proxies:` could be read as a mapping; if not, references to proxies are not
    /// checked (every one would be "unknown" because of the one mistake already reported).
    var proxiesKnown = false
    /// The same for `timeline:` and phase names.
    var phasesKnown = false
    /// The protocol of each proxy whose `protocol:` could be read.
    var proxyProtocols: [String: ProxyProtocol] = [:]
    /// Proxies with a `tls:` key.
    var tlsProxies: Set<String> = []
    /// Every phase name in order, for suggestions.
    var phaseNames: [String] = []
    /// Where each phase name was first given; lookups stay constant-time in long timelines.
    var phasePositions: [String: SourcePosition] = [:]
    /// Which proxy listens where, by the address's text, to report a second one.
    private var listenOwners: [String: String] = [:]

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
            proxyNameSet.insert(item.key)
            if let proxy = readProxy(item) { proxies.append(proxy) }
        }
        return proxies
    }

    private func readProxy(_ item: NodeReader.Entry) -> ScenarioProxy? {
        let what = "proxy '\(item.key)'"
        guard let fields = reader.mapping(item.value, what, expected: "a mapping with listen and upstream") else { return nil }
        reader.checkKeys(fields, allowed: ScenarioSchema.proxy.keyNames, in: what)
        func field(_ key: String) -> NodeReader.Entry? { fields.first { $0.key == key } }
        let listenEntry = reader.entry("listen", in: fields, of: item.keyNode, required: "where clients connect, e.g. 127.0.0.1:16379")
        let listen = listenEntry.flatMap { reader.address($0.value, "listen") }
        let upstreamEntry = reader.entry("upstream", in: fields, of: item.keyNode, required: "where the proxy forwards, e.g. 127.0.0.1:6379")
        let upstream = upstreamEntry.flatMap { reader.address($0.value, "upstream", upstream: true) }
        if let listen, let upstream, let upstreamEntry, upstream.reaches(listener: listen) {
            // `run` refuses it at start; `check` must say so first, where the file says it.
            let loop = SelfLoopError(proxy: item.key, listen: listen, upstream: upstream)
            reader.report(upstreamEntry.value, "upstream \(loop.reason)")
        }
        var proto: ProxyProtocol? = .tcp
        if let protocolEntry = field("protocol") {
            proto = readProtocol(protocolEntry.value)
        }
        proxyProtocols[item.key] = proto
        // A proxy with a `tls:` that has mistakes still counts as a TLS proxy: its `tls.*`
        // faults are not reported a second time.
        let tlsEntry = field("tls")
        if tlsEntry != nil { tlsProxies.insert(item.key) }
        let tls = tlsEntry.map { readServerTLS($0.value, proxy: item.key) }
        let upstreamTLS = field("upstream_tls").map { readUpstreamTLS($0.value, proxy: item.key) }
        if let listen, let listenEntry, listen.port != 0 {
            if let other = listenOwners[listen.description] {
                reader.report(listenEntry.value, "listen: \(listen) is already where proxy '\(other)' listens")
            } else {
                listenOwners[listen.description] = item.key
            }
        }
        // `.some(nil)`: the key is there but has mistakes (already reported).
        guard let listen, let upstream, let proto, tls != .some(nil), upstreamTLS != .some(nil) else { return nil }
        return ScenarioProxy(name: item.key, listen: listen, upstream: upstream, protocol: proto, tls: tls ?? nil,
                             upstreamTLS: upstreamTLS ?? nil, position: reader.position(item.keyNode))
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

    // MARK: references

    /// The proxy named by `proxy:`, or the only proxy; reports an unknown or missing one.
    func proxyReference(_ entry: NodeReader.Entry?, owner node: Node) -> String? {
        if let entry {
            guard let name = reader.text(entry.value, "proxy", expected: "a proxy name") else { return nil }
            guard !proxiesKnown || proxyNameSet.contains(name) else {
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
        guard !phasesKnown || phasePositions[name] != nil else {
            reader.report(node, "\(what): unknown phase '\(name)'\(Suggestion.hint(for: name, in: phaseNames))")
            return nil
        }
        return name
    }
}
