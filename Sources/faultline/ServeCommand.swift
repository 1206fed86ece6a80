import ArgumentParser
import Faultline
import Foundation

/// `faultline serve`: proxies driven by the control API (Toxiproxy's, and faultline's own),
/// until SIGINT or SIGTERM.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the control API (Toxiproxy-compatible) and the proxies it creates.",
        discussion: """
            Toxiproxy's clients work unchanged against it (same port, same endpoints), and it \
            adds /scenarios, /events and /metrics. docs/api.md lists every endpoint.

            Examples:
              faultline serve
              faultline serve --config proxies.json
              faultline serve --api 0.0.0.0:8474 --token "$(openssl rand -hex 16)"
              faultline serve --record rec/

            SIGINT or SIGTERM closes the API and the proxies (connections get 2 s to finish) and \
            exits 0; a second signal exits at once.
            """)

    @OptionGroup var apiOptions: APIOptions

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Create proxies from this file at start: Toxiproxy's format, a JSON list of {name, listen, upstream, enabled}.",
                               valueName: "file"))
    var config: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Seed for every per-connection decision (toxicity, probability), 0 to 2^64-1; random when not given.",
                               valueName: "seed"))
    var seed: String?

    @OptionGroup var recording: RecordOptions

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        guard let address = try apiOptions.address(default: "127.0.0.1:8474") else { return }
        let seed = try OptionValues.seed(seed) ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let recordingOptions = try recording.options()
        let configBody: [UInt8]?
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw InputError("--config", "cannot read \(config)")
            }
            configBody = Array(data)
        } else {
            configBody = nil
        }
        let log = logging.bootstrap()
        ResourceLimits.raiseOpenFiles(log: log)
        let loop = try EventLoop()
        defer { withExtendedLifetime(loop) {} }
        let bus = EventBus()
        let recorder = try recording.start(recordingOptions, command: "serve", seed: seed, bus: bus, loop: loop, log: log)
        defer { recorder?.finish() }
        let plane = ControlPlane(loop: loop, bus: bus, seed: seed, log: log)
        if let recorder {
            var started = 0
            plane.scenarioStarted = { text, seed in
                started += 1
                recorder.write("scenario-\(started).yaml",
                               RecordedScenario.text(text, seed: seed, source: "POST /scenarios") ?? text)
            }
        }
        if let configBody, let config {
            do {
                try plane.load(config: configBody)
            } catch {
                throw InputError("--config", "\(config): \(error)")
            }
        }
        let server: ControlServer
        do {
            server = try apiOptions.serve(plane, on: address, log: log)
        } catch {
            plane.shutdown(grace: .zero) {}
            throw error
        }
        log.info("seed \(seed) (pass --seed \(seed) to repeat these decisions)")
        let signals = ShutdownSignals(loop: loop) { signo in
            log.info("signal \(signo): closing the API and the proxies (a second signal exits at once)")
            bus.emit(.stopping(signal: signo, commandGroup: nil, killAfter: .zero))
            recorder?.flush()
            server.finishStreams()
            plane.shutdown(grace: .seconds(2)) { loop.stop() }
        }
        loop.run()
        // The event streams' last chunks (finished above) go out before the process ends.
        loop.run(for: .milliseconds(200))
        withExtendedLifetime((signals, server)) {}
    }
}
