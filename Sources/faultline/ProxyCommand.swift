import ArgumentParser
import Faultline

/// `faultline proxy`: one ad-hoc proxy from flags, until SIGINT or SIGTERM.
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run one proxy with faults given as flags, no scenario file needed.",
        // --listen and --upstream are read as lists only to refuse a second one.
        usage: "faultline proxy --listen <addr> --upstream <addr> [--protocol <protocol>] [--fault <spec> ...] "
            + "[--tls-profile <profile> [--tls-host <name> ...] [--tls-key <key>]] "
            + "[--upstream-tls [--upstream-ca <file>] [--upstream-sni <name>] [--upstream-insecure] [--upstream-no-verify]] "
            + "[--connect-timeout <duration>] [--seed <seed>] [--no-splice] "
            + "[--record <dir> [--capture-limit <size>] [--no-capture] [--no-redact]] [--log-level <log-level>]",
        discussion: """
            Examples:
              faultline proxy --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379
              faultline proxy --listen [::1]:8080 --upstream 127.0.0.1:80 --log-level debug
              faultline proxy --listen 127.0.0.1:15432 --upstream 127.0.0.1:5432 --fault tcp.latency:ms=100,jitter=10
              faultline proxy --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379 --fault tcp.cutoff:after=2s
              faultline proxy --listen 127.0.0.1:18443 --upstream 127.0.0.1:8080 --tls-profile incomplete_chain
              faultline proxy --listen 127.0.0.1:16380 --upstream redis.internal:6380 --upstream-tls --upstream-ca ca.pem
              faultline proxy --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379 --protocol redis --fault redis.reject_auth:first=3
              faultline proxy --listen 127.0.0.1:18080 --upstream 127.0.0.1:8080 --protocol http --fault 'http.respond:status=404,path=/api/v2/*'
              faultline proxy --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379 --protocol redis --record rec/
              (a comma inside a --fault value is written \\, : --fault 'http.respond:status=503,body={"a":1\\,"b":2}')

            TLS profiles (--tls-profile), as a verifying client meets them at handshake:
            \(profileList)

            SIGINT or SIGTERM stops accepting, lets open connections finish writing what was \
            already read (2 s at most) and exits 0; a second signal exits at once.
            """)

    /// One line per certificate profile, from the code that defines them.
    private static var profileList: String {
        CertificateProfile.allCases.map { "  \($0.rawValue): \($0.summary)" }.joined(separator: "\n")
    }

    // Lists only to see a flag given twice (a plain option silently keeps the last one);
    // `run()` requires exactly one of each.
    @Option(help: ArgumentHelp("Address to accept clients on: host:port or [v6]:port.", valueName: "addr"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("Address to forward to: host:port or [v6]:port.", valueName: "addr"))
    var upstream: [String] = []

    @Option(parsing: .unconditional, help: "Protocol spoken through the proxy: tcp, redis (commands framed, redis.* faults) or http (requests framed, http.* faults).")
    var `protocol`: String = "tcp"

    @Option(name: .customLong("fault"),
            help: ArgumentHelp(
                "A fault, repeatable: KIND:key=value,… with the kind's parameters and direction, probability, first, every, name (see `faultline faults`).",
                valueName: "spec"))
    var faults: [String] = []

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Give up an upstream connect after this long and close the client (e.g. 500ms, 10s).", valueName: "duration"))
    var connectTimeout: String = "10s"

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Seed for every per-connection decision (probability), 0 to 2^64-1; random when not given.", valueName: "seed"))
    var seed: String?

    // Lists, as --listen, only to refuse a second value instead of keeping the last.
    @Option(name: .customLong("tls-profile"),
            help: ArgumentHelp("Terminate TLS toward clients, presenting this certificate profile: valid passes a client's "
                               + "verification, the others fail it as the list below says.", valueName: "profile"))
    var tlsProfile: [String] = []

    @Option(name: .customLong("tls-host"),
            help: ArgumentHelp("A name or IP address the certificate is for, repeatable (default: localhost); the first is its "
                               + "subject. A client that connects by another name fails its name check (needs --tls-profile).",
                               valueName: "name"))
    var tlsHosts: [String] = []

    @Option(name: .customLong("tls-key"),
            help: ArgumentHelp("The certificate's key: ec (P-256, the default) or rsa (2048); weak_key always has RSA-1024 "
                               + "(needs --tls-profile).", valueName: "key"))
    var tlsKey: [String] = []

    @Flag(name: .customLong("upstream-tls"),
          help: ArgumentHelp("Speak TLS to the upstream, checking its certificate chain against the system's roots "
                             + "(or --upstream-ca) and its address (or the name --upstream-sni gives)."))
    var upstreamTLS = false

    @Option(name: .customLong("upstream-ca"),
            help: ArgumentHelp("PEM file of the roots the upstream's certificate must chain to, instead of the system's "
                               + "(needs --upstream-tls).", valueName: "file"))
    var upstreamCA: [String] = []

    @Option(name: .customLong("upstream-sni"),
            help: ArgumentHelp("Server name sent to the upstream (SNI) and checked in its certificate; without it none is sent "
                               + "and the upstream's IP address is checked (needs --upstream-tls).", valueName: "name"))
    var upstreamSNI: [String] = []

    @Flag(name: .customLong("upstream-insecure"),
          help: ArgumentHelp("Like curl -k: check nothing and accept what a strict client refuses: TLS 1.0/1.1, weak keys "
                             + "and signatures (needs --upstream-tls)."))
    var upstreamInsecure = false

    @Flag(name: .customLong("upstream-no-verify"),
          help: ArgumentHelp("Check neither the upstream's chain nor its name, but still refuse what --upstream-insecure "
                             + "accepts (needs --upstream-tls)."))
    var upstreamNoVerify = false

    @Flag(help: "Never splice: move every byte through the process (for comparison and debugging).")
    var noSplice = false

    @OptionGroup var recording: RecordOptions

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let proxyProtocol = try OptionValues.proxyProtocol(`protocol`)
        let recordingOptions = try recording.options()
        let seed = try OptionValues.seed(seed)
        var options = ProxyOptions()
        options.protocol = proxyProtocol
        options.connectTimeout = try OptionValues.connectTimeout(connectTimeout)
        let faultList: [Fault]
        do { faultList = try faults.map { try Fault(parsing: FaultSpec(parsing: $0)) } } catch { throw InputError("--fault", error) }
        try OptionValues.uniqueFaultNames(faultList, specs: faults)
        options.tls = try serverTLS()
        options.upstreamTLS = try upstreamTLSSettings()
        let listenAddress: SocketAddress
        let upstreamAddress: SocketAddress
        let listen = try OptionValues.single(listen, "--listen", example: "127.0.0.1:16379")
        let upstream = try OptionValues.single(upstream, "--upstream", example: "127.0.0.1:6379")
        do { listenAddress = try SocketAddress(parsing: listen) } catch { throw InputError("--listen", error) }
        do { upstreamAddress = try SocketAddress(parsingUpstream: upstream) } catch { throw InputError("--upstream", error) }
        let log = logging.bootstrap()
        ResourceLimits.raiseOpenFiles(log: log)
        do { try faultList.forEach { try Proxy.checkLayer($0, options: options, proxy: "proxy") } } catch {
            throw InputError("--fault", error)
        }
        let loop = try EventLoop()
        let proxy = Proxy(name: "proxy", listen: listenAddress, upstream: upstreamAddress,
                          options: options, loop: loop, logger: log)
        proxy.dataPath = noSplice ? .buffered : .splice
        proxy.seed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        if !faultList.isEmpty { log.info("seed \(proxy.seed) (pass --seed \(proxy.seed) to repeat these decisions)") }
        let recorder = try recording.start(recordingOptions, command: "proxy", seed: proxy.seed, bus: proxy.bus,
                                           loop: loop, log: log)
        defer { recorder?.finish() }
        do { try faultList.forEach(proxy.add) } catch { throw InputError("--fault", error) }
        do {
            try proxy.start()
        } catch let selfLoop as SelfLoopError {
            throw InputError("--upstream", selfLoop.reason)
        } catch let tls as TLSSetupError {
            throw InputError(tls.leg == .client ? "--tls-profile" : "--upstream-tls", tls.reason)
        } catch {
            throw InputError("--listen", error)
        }
        let signals = ShutdownSignals(loop: loop) { signo in
            log.info("signal \(signo): closing connections (a second signal exits at once)")
            // The recording's end: when the proxy stopped, not its last connection.
            proxy.bus.emit(.stopping(signal: signo, commandGroup: nil, killAfter: .zero))
            recorder?.flush()
            proxy.shutdown { loop.stop() }
        }
        loop.run()
        withExtendedLifetime(signals) {}
    }

    /// `--tls-profile`, `--tls-host`, `--tls-key`; nil without a profile (then the other two
    /// are refused: they would mean nothing).
    private func serverTLS() throws -> ServerTLS? {
        guard let profileText = try Self.once(tlsProfile, "--tls-profile") else {
            if let flag = [("--tls-host", tlsHosts), ("--tls-key", tlsKey)].first(where: { !$0.1.isEmpty })?.0 {
                throw InputError(flag, "needs --tls-profile, which turns on TLS toward clients (e.g. --tls-profile valid)")
            }
            return nil
        }
        var settings = ServerTLS()
        do { settings.profile = try TLSText.profile(profileText) } catch { throw InputError("--tls-profile", error) }
        if !tlsHosts.isEmpty {
            do { settings.hosts = try TLSText.hosts(tlsHosts) } catch { throw InputError("--tls-host", error) }
        }
        if let keyText = try Self.once(tlsKey, "--tls-key") {
            do { settings.key = try TLSText.key(keyText) } catch { throw InputError("--tls-key", error) }
            if let conflict = TLSText.keyConflict(settings.key, profile: settings.profile) { throw InputError("--tls-key", conflict) }
        }
        return settings
    }

    /// `--upstream-tls` and what refines it; each refinement alone is refused, never taken
    /// as TLS implied.
    private func upstreamTLSSettings() throws -> UpstreamTLS? {
        guard upstreamTLS else {
            let given = [("--upstream-ca", !upstreamCA.isEmpty), ("--upstream-sni", !upstreamSNI.isEmpty),
                         ("--upstream-insecure", upstreamInsecure), ("--upstream-no-verify", upstreamNoVerify)]
            if let flag = given.first(where: { $0.1 })?.0 {
                throw InputError(flag, "needs --upstream-tls: add --upstream-tls to speak TLS to the upstream")
            }
            return nil
        }
        var caFile: String?
        if let path = try Self.once(upstreamCA, "--upstream-ca") {
            do { try TLSText.checkCAFile(path) } catch { throw InputError("--upstream-ca", error) }
            caFile = path
        }
        var sni: String?
        if let name = try Self.once(upstreamSNI, "--upstream-sni") {
            do { sni = try TLSText.serverName(name) } catch { throw InputError("--upstream-sni", error) }
        }
        return UpstreamTLS(verify: !upstreamNoVerify, caFile: caFile, sni: sni, insecure: upstreamInsecure)
    }

    /// The value of a flag that may be given at most once; a second one is refused.
    private static func once(_ values: [String], _ flag: String) throws -> String? {
        guard values.count > 1 else { return values.first }
        throw InputError(flag, "given \(values.count) times (\(values.map { "'\($0)'" }.joined(separator: ", "))): give it once")
    }
}
