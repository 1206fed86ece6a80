import Dispatch
import Faultline
import Foundation
import Logging
import XCTest

/// A `Proxy` on its own `EventLoop` thread inside the test process, for what the CLI cannot
/// do: switch `dataPath` on live links and read `stats`.
///
/// The loop, the proxy and every call on them live on the loop thread (created there, touched
/// only through `execute`), as the library requires; this box only carries them across.
final class InProcessProxy: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var loop: EventLoop?
    private var proxy: Proxy?
    private var startError: Error?
    private var stopped = false
    /// The port the proxy listens on.
    private(set) var port: UInt16 = 0
    /// Link-made objects alive right after the proxy started: what must be left once every
    /// link has closed, whatever faults the links met.
    private var idleObjects = LiveObjects()

    init(upstream: String, listen: String = "127.0.0.1:0", path: DataPath,
         options: ProxyOptions = ProxyOptions()) throws {
        let thread = Thread { [self] in
            run(upstream: upstream, listen: listen, path: path, options: options)
        }
        thread.name = "faultline-loop"
        thread.start()
        guard ready.wait(timeout: .now() + 10) == .success else { throw WorkerTimeout(name: "proxy start", seconds: 10) }
        if let startError { throw startError }
    }

    private func run(upstream: String, listen: String, path: DataPath, options: ProxyOptions) {
        do {
            let loop = try EventLoop()
            var logger = Logger(label: "integration")
            logger.logLevel = .warning
            let proxy = Proxy(name: "it", listen: try SocketAddress(parsing: listen),
                              upstream: try SocketAddress(parsing: upstream),
                              options: options, loop: loop, logger: logger)
            proxy.dataPath = path
            try proxy.start()
            self.loop = loop
            self.proxy = proxy
            port = proxy.listenAddress?.port ?? 0
            idleObjects = loop.liveObjects
        } catch {
            startError = error
        }
        ready.signal()
        guard startError == nil else {
            finished.signal()
            return
        }
        loop?.run()
        proxy = nil  // free the links and their events on this thread, before the base goes
        finished.signal()
    }

    /// Moves new and live links to `path` (asynchronously, on the loop thread).
    func setPath(_ path: DataPath) {
        loop?.execute { [self] in proxy?.dataPath = path }
    }

    /// Runs `body` with the proxy on the loop thread and returns its result.
    func onLoop<T>(_ body: @escaping (Proxy) -> T) throws -> T {
        let result = Locked<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        let call = UncheckedSendable(body)
        loop?.execute { [self] in
            if let proxy { result.update { $0 = call.value(proxy) } }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success, let value = result.current else {
            throw WorkerTimeout(name: "loop call", seconds: 10)
        }
        return value
    }

    var stats: ProxyStats {
        get throws { try onLoop { $0.stats } }
    }

    /// Link-made objects alive now (links, pipes, effects, stages, timers).
    var liveObjects: LiveObjects {
        get throws { try onLoop { _ in self.loop?.liveObjects ?? LiveObjects() } }
    }

    /// Once every link has closed, no object a link made may be left: checked by `stop()`
    /// whenever the test's links are gone by then, so every fault kind's tests check it.
    func assertLinkObjectsReleased(waiting seconds: Double, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = monotonicSeconds() + seconds
        var live = (try? liveObjects) ?? LiveObjects()
        while live != idleObjects && monotonicSeconds() < deadline {
            usleep(10_000)
            live = (try? liveObjects) ?? live
        }
        XCTAssertEqual(live, idleObjects, "objects made by links outlived them (alive now vs. before any link)", file: file, line: line)
    }

    /// Graceful shutdown, then waits for the loop thread to end. When the test's links have
    /// closed (or close within a second), first checks that nothing they made is left.
    func stop(grace: Duration = .milliseconds(200), file: StaticString = #filePath, line: UInt = #line) {
        guard !stopped else { return }
        if linksClose(within: 1) { assertLinkObjectsReleased(waiting: 1, file: file, line: line) }
        stopped = true
        loop?.execute { [self] in
            guard let proxy, let loop else { return }
            proxy.shutdown(grace: grace) { loop.stop() }
        }
        _ = finished.wait(timeout: .now() + 10)
    }
}

extension InProcessProxy {
    fileprivate func linksClose(within seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while monotonicSeconds() < deadline {
            guard let open = try? onLoop({ $0.stats.open }) else { return false }
            if open == 0 { return true }
            usleep(10_000)
        }
        return false
    }
}

/// Carries a value the compiler cannot prove Sendable into a loop closure; used only where
/// the value is touched on one thread at a time.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
