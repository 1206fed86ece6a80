import ArgumentParser
import Faultline

/// `faultline proxy`: one ad-hoc proxy from flags, until SIGINT or SIGTERM.
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run one proxy with faults given as flags, no scenario file needed.",
        // --listen and --upstream are read as lists only to refuse a second one.
        usage: "faultline proxy --listen <addr> --upstream <addr> [--protocol <protocol>] [--fault <spec> ...] "
            + "[--connect-timeout <duration>] [--seed <seed>] [--no-splice] [--log-level <log-level>]",
        discussion: """
            Examples:
              faultline proxy --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379
              faultline proxy --listen [::1]:8080 --upstream 127.0.0.1:80 --log-level debug
              faultline proxy --listen 127.0.0.1:15432 --upstream 127.0.0.1:5432 --fault tcp.latency:ms=100,jitter=10
              faultline proxy --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379 --fault tcp.cutoff:after=2s

            SIGINT or SIGTERM stops accepting, lets open connections finish writing what was \
            already read (2 s at most) and exits 0; a second signal exits at once.
            """)

    // Lists only to see a flag given twice (a plain option silently keeps the last one);
    // `run()` requires exactly one of each.
    @Option(help: ArgumentHelp("Address to accept clients on: host:port or [v6]:port.", valueName: "addr"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("Address to forward to: host:port or [v6]:port.", valueName: "addr"))
    var upstream: [String] = []

    @Option(parsing: .unconditional, help: "Protocol spoken through the proxy: tcp (redis and http come with their faults).")
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

    @Flag(help: "Never splice: move every byte through the process (for comparison and debugging).")
    var noSplice = false

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        _ = try OptionValues.proxyProtocol(`protocol`)
        let seed = try OptionValues.seed(seed)
        var options = ProxyOptions()
        options.connectTimeout = try OptionValues.connectTimeout(connectTimeout)
        let faultList: [Fault]
        do { faultList = try faults.map { try Fault(parsing: FaultSpec(parsing: $0)) } } catch { throw InputError("--fault", error) }
        try OptionValues.uniqueFaultNames(faultList, specs: faults)
        let listenAddress: SocketAddress
        let upstreamAddress: SocketAddress
        let listen = try OptionValues.single(listen, "--listen", example: "127.0.0.1:16379")
        let upstream = try OptionValues.single(upstream, "--upstream", example: "127.0.0.1:6379")
        do { listenAddress = try SocketAddress(parsing: listen) } catch { throw InputError("--listen", error) }
        do { upstreamAddress = try SocketAddress(parsingUpstream: upstream) } catch { throw InputError("--upstream", error) }
        let log = logging.bootstrap()
        ResourceLimits.raiseOpenFiles(log: log)
        let loop = try EventLoop()
        let proxy = Proxy(name: "proxy", listen: listenAddress, upstream: upstreamAddress,
                          options: options, loop: loop, logger: log)
        proxy.dataPath = noSplice ? .buffered : .splice
        proxy.seed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        if !faultList.isEmpty { log.info("seed \(proxy.seed) (pass --seed \(proxy.seed) to repeat these decisions)") }
        do { try faultList.forEach(proxy.add) } catch { throw InputError("--fault", error) }
        do {
            try proxy.start()
        } catch let selfLoop as SelfLoopError {
            throw InputError("--upstream", selfLoop.reason)
        } catch {
            throw InputError("--listen", error)
        }
        let signals = ShutdownSignals(loop: loop) { signo in
            log.info("signal \(signo): closing connections (a second signal exits at once)")
            proxy.shutdown { loop.stop() }
        }
        loop.run()
        withExtendedLifetime(signals) {}
    }
}
