/// One key a scenario file may use, as docs/scenarios.md shows it.
public struct ScenarioKey: Sendable {
    /// The key.
    public let name: String
    /// Its value's type in words.
    public let type: String
    /// `required`, `optional` or the default.
    public let presence: String
    /// What it means.
    public let meaning: String
    /// A value, as YAML.
    public let example: String

    init(_ name: String, _ type: String, _ presence: String, _ meaning: String, example: String) {
        self.name = name
        self.type = type
        self.presence = presence
        self.meaning = meaning
        self.example = example
    }
}

/// The keys of one kind of mapping in a scenario file (the top level, a proxy, a phase, …).
public struct ScenarioSection: Sendable {
    /// The heading docs give it.
    public let title: String
    /// Where the mapping sits, as docs name it: `proxies.NAME`; empty for the top level.
    public let path: String
    /// What the mapping is, for "unknown key … in a phase".
    public let noun: String
    /// Its keys, in the order docs list them.
    public let keys: [ScenarioKey]

    /// The keys' names, which are exactly the keys the loader accepts here.
    public var keyNames: [String] { keys.map(\.name) }
}

/// Every key a scenario file may use. The loader rejects any key not listed here and
/// docs/scenarios.md is generated from it (`ScenarioReference`), so the two cannot disagree.
public enum ScenarioSchema {
    /// The file's top-level mapping.
    public static let top = ScenarioSection(title: "The scenario", path: "", noun: "the scenario", keys: [
        ScenarioKey("name", "text", "the file's name", "shown in the live view, the log and the verdict",
                    example: "redis-auth-railway"),
        ScenarioKey("description", "text", "optional", "one line on the incident the scenario reproduces",
                    example: "Managed Redis rejects AUTH on the first attempts."),
        ScenarioKey("seed", "whole number ≥ 0", "random, printed", "seed for every probabilistic decision; `run --seed` overrides it",
                    example: "42"),
        ScenarioKey("proxies", "mapping: name → proxy", "required", "the proxies to start, by name",
                    example: "{ redis: { listen: 127.0.0.1:16379, upstream: 127.0.0.1:6379 } }"),
        ScenarioKey("timeline", "list of phases", "required, not empty", "phases played in order, each for its duration",
                    example: "[{ phase: healthy, for: 5s }]"),
        ScenarioKey("faults", "list of fault entries", "none", "faults active for the whole run",
                    example: "[{ tcp.latency: { ms: 50 } }]"),
        ScenarioKey("expect", "list of expectations", "none", "checks on the client, judged at the end of the run",
                    example: "[{ during: outage, max_connection_attempts: 6 }]"),
    ])

    /// One entry under `proxies:`.
    public static let proxy = ScenarioSection(title: "A proxy", path: "proxies.NAME", noun: "a proxy", keys: [
        ScenarioKey("listen", "address", "required", "where clients connect: host:port, IPv6 as [::1]:port",
                    example: "127.0.0.1:16379"),
        ScenarioKey("upstream", "address", "required", "where the proxy forwards", example: "127.0.0.1:6379"),
        ScenarioKey("protocol", ProxyProtocol.allCases.map(\.rawValue).joined(separator: "|"), "tcp",
                    "what the proxy parses, which decides the faults it takes (see redis.md, http.md)",
                    example: "tcp"),
        ScenarioKey("tls", "mapping (below)", "plain", "terminate TLS toward the client, presenting a certificate profile",
                    example: "{ profile: incomplete_chain, host: localhost }"),
        ScenarioKey("upstream_tls", "mapping (below)", "plain", "speak TLS to the upstream", example: "{ verify: true, ca: ./ca.pem }"),
    ])

    /// A proxy's `tls:`: what a client meets at handshake.
    public static let serverTLS = ScenarioSection(
        title: "TLS toward the client", path: "proxies.NAME.tls", noun: "tls", keys: [
            ScenarioKey("profile", "profile name", "valid", "the certificate the client meets at handshake (profiles below)",
                        example: "incomplete_chain"),
            ScenarioKey("host", "name or list of names", "localhost",
                        "the names and IP addresses the certificate is for (the first is its subject); no spaces, no port",
                        example: "[localhost, 127.0.0.1]"),
            ScenarioKey("key", KeyType.allCases.map(\.rawValue).joined(separator: "|"), "ec",
                        "the certificate's key: EC P-256 or RSA 2048 (weak_key is always RSA-1024)", example: "rsa"),
        ])

    /// A proxy's `upstream_tls:`: how faultline checks the upstream.
    public static let upstreamTLS = ScenarioSection(
        title: "TLS to the upstream", path: "proxies.NAME.upstream_tls", noun: "upstream_tls", keys: [
            ScenarioKey("verify", "true|false", "true",
                        "check the upstream's certificate chain and name; false checks neither but still refuses what insecure accepts",
                        example: "true"),
            ScenarioKey("ca", "file", "the system's roots",
                        "PEM file of the roots to trust, relative to the scenario file's directory; it must be readable when the file is loaded",
                        example: "./ca.pem"),
            ScenarioKey("sni", "host name", "none",
                        "the server name sent (SNI) and checked in the certificate; without it, none is sent and the upstream's IP address is checked",
                        example: "redis.internal"),
            ScenarioKey("insecure", "true|false", "false",
                        "like curl -k: check nothing and accept what a strict client refuses (TLS 1.0/1.1, weak keys and signatures); "
                            + "implies verify: false, so verify: true beside it is an error",
                        example: "true"),
        ])

    /// One entry of `timeline:`.
    public static let phase = ScenarioSection(title: "A phase", path: "timeline[]", noun: "a phase", keys: [
        ScenarioKey("phase", "text", "required", "the phase's name, unique; `during:` and `after:` use it", example: "outage"),
        ScenarioKey("for", "duration", "required", "how long the phase lasts, above 0", example: "30s"),
        ScenarioKey("faults", "list of fault entries", "none", "faults active from the phase's start to its end",
                    example: "[{ tcp.cutoff: { after: 2s } }]"),
    ])

    /// The keys every fault entry's parameters may use besides its kind's own.
    public static let fault = ScenarioSection(
        title: "A fault entry", path: "LAYER.KIND: {…}", noun: "a fault",
        keys: [ScenarioKey("proxy", "proxy name", "the only proxy", "the proxy the fault goes on; required with several proxies",
                           example: "redis")]
            + Fault.commonParameters.map { parameter in
                ScenarioKey(parameter.name, parameter.type.name, parameter.defaultValue.map(\.description) ?? "optional",
                            parameter.help, example: commonExamples[parameter.name] ?? "")
            })

    /// The keys that scope an `expect:` entry; its check is one key of `ExpectationKind.all`.
    public static let expectation = ScenarioSection(title: "An expectation", path: "expect[]", noun: "an expectation", keys: [
        ScenarioKey("during", "phase name", "the whole run", "judge only the time of this phase", example: "outage"),
        ScenarioKey("after", "phase name", "the whole run", "judge from this phase's end to the end of the run",
                    example: "outage"),
        ScenarioKey("proxy", "proxy name", "every proxy", "whose traffic to judge", example: "redis"),
    ])

    /// Every section, in the order docs show them.
    public static let sections: [ScenarioSection] = [top, proxy, serverTLS, upstreamTLS, phase, fault, expectation]

    private static let commonExamples = [
        "name": "slow_replies", "direction": "upstream", "probability": "0.5", "first": "3", "every": "2",
    ]
}

extension Scenario {
    /// Every key a scenario file may use, by section: the lists the loader checks keys against.
    public static var schema: [ScenarioSection] { ScenarioSchema.sections }
}
