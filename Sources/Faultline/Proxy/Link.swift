import CEvent
import Glibc
import Logging

/// One client connection and its upstream connection: the two `Pipe`s between them and the
/// rules for ending them (FIN mirrors FIN, RST mirrors RST).
final class Link {
    /// Process-unique, increasing; appears in every log line about this link.
    let id: UInt64
    private unowned let proxy: Proxy
    private let client: Int32
    private var upstream: Int32 = -1
    private var connectEvent: OpaquePointer?
    private var toUpstream: Pipe?
    private var toClient: Pipe?
    private var closed = false
    private(set) var log: Logger

    init(id: UInt64, client: Int32, proxy: Proxy) {
        self.id = id
        self.client = client
        self.proxy = proxy
        var log = proxy.log
        log[metadataKey: "link"] = "\(id)"
        self.log = log
    }

    deinit {
        if let connectEvent { event_free(connectEvent) }
    }

    /// Connects to the upstream; the client is not read until that succeeds, so its bytes
    /// wait in the kernel meanwhile.
    func start() {
        Socket.setNoDelay(client)
        let address = proxy.upstream
        upstream = Socket.tcp(family: address.family)
        guard upstream >= 0 else { return upstreamFailed(errno) }
        switch Socket.connect(upstream, to: address) {
        case 0:
            connected()
        case EINPROGRESS:
            let me = Unmanaged.passUnretained(self).toOpaque()
            connectEvent = event_new(proxy.loop.base, upstream, Int16(EV_WRITE), upstreamConnectReady, me)
            var timeout = proxy.options.connectTimeout.timeval
            event_add(connectEvent, &timeout)
        case let error:
            upstreamFailed(error)
        }
    }

    fileprivate func connectReady(timedOut: Bool) {
        if timedOut {
            log.warning("upstream \(proxy.upstream) did not answer the connect within \(DurationText.format(proxy.options.connectTimeout)); closing the client")
            proxy.noteUpstreamFailure()
            return close(resetting: nil)
        }
        let error = Socket.pendingError(upstream)
        error == 0 ? connected() : upstreamFailed(error)
    }

    private func upstreamFailed(_ error: Int32) {
        log.warning("upstream \(proxy.upstream) unreachable: \(Socket.describe(error)); closing the client")
        proxy.noteUpstreamFailure()
        close(resetting: nil)
    }

    private func connected() {
        Socket.setNoDelay(upstream)
        let loop = proxy.loop
        let path = proxy.dataPath
        let limits = proxy.options.limits
        toUpstream = Pipe(.upstream, link: self, from: client, to: upstream, loop: loop, path: path, limits: limits)
        toClient = Pipe(.downstream, link: self, from: upstream, to: client, loop: loop, path: path, limits: limits)
        log.debug("connected to upstream \(proxy.upstream)")
        toUpstream?.start()
        toClient?.start()
    }

    /// Moves both directions to `path`; bytes already in flight keep their order.
    func use(_ path: DataPath) {
        toUpstream?.path = path
        toClient?.path = path
    }

    /// Graceful end: read nothing more, write what was read, then FIN both ways.
    func drainAndClose() {
        guard toUpstream != nil, toClient != nil else { return close(resetting: nil) }
        toUpstream?.stopReading()
        toClient?.stopReading()
    }

    /// Cuts the link now, whatever is still in flight.
    func abandon() { close(resetting: nil) }

    /// Bytes moved so far: client→upstream, upstream→client.
    var bytes: (up: UInt64, down: UInt64) { (toUpstream?.bytes ?? 0, toClient?.bytes ?? 0) }

    // MARK: called by the pipes

    /// A pipe sent its FIN; when both have, the link is done.
    func pipeFinished(_ pipe: Pipe) {
        if toUpstream?.sinkFinished == true && toClient?.sinkFinished == true {
            close(resetting: nil)
        }
    }

    /// Reading the source failed (usually ECONNRESET): the other peer gets an RST too.
    func sourceFailed(_ pipe: Pipe, errno error: Int32) {
        let peer = pipe.direction == .upstream ? "client" : "upstream"
        log.debug("\(peer) \(Socket.describe(error)); resetting the other side")
        close(resetting: pipe.direction == .upstream ? upstream : client)
    }

    /// Writing the sink failed (EPIPE, ECONNRESET): the source's peer gets an RST.
    func sinkFailed(_ pipe: Pipe, errno error: Int32) {
        let peer = pipe.direction == .upstream ? "upstream" : "client"
        log.debug("writing to \(peer) failed: \(Socket.describe(error)); resetting the other side")
        close(resetting: pipe.direction == .upstream ? client : upstream)
    }

    /// Closes both sockets, the one named with an RST, and hands the link back to its proxy.
    private func close(resetting victim: Int32?) {
        guard !closed else { return }
        closed = true
        if let connectEvent { event_del(connectEvent) }
        toUpstream?.dispose()
        toClient?.dispose()
        if let victim {
            Socket.setResetOnClose(victim)
        } else {
            // Linux answers close() with an RST while unread bytes wait; a FIN is meant here.
            Socket.discardInput(client, scratch: proxy.loop.scratch)
            if upstream >= 0 { Socket.discardInput(upstream, scratch: proxy.loop.scratch) }
        }
        Glibc.close(client)
        if upstream >= 0 { Glibc.close(upstream) }
        let (up, down) = bytes
        log.debug("closed (\(up) bytes up, \(down) bytes down)\(victim == nil ? "" : ", with RST")")
        proxy.linkClosed(self)
    }
}

private func upstreamConnectReady(_ fd: Int32, _ what: Int16, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<Link>.fromOpaque(arg).takeUnretainedValue().connectReady(timedOut: what & Int16(EV_TIMEOUT) != 0)
}
