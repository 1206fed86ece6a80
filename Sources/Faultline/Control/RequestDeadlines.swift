import CEvent
import Glibc

/// A deadline per API connection: 15 s from its accept (or from its last request) to send the
/// next whole request. evhttp's own timeout is an inactivity timeout, reset by every byte, so a
/// client dripping a header byte a second would hold a connection for ever; this one is not.
///
/// evhttp makes each connection's bufferevent through `make` (its `bevcb`) and builds the
/// connection around it before that callback returns; a timer that fires right after the
/// accept callback (before any I/O on the new socket can run) finds the connection through the
/// bufferevent's callback argument and asks to hear of its close. At the deadline the socket is
/// shut down, not freed: evhttp reads EOF and frees the connection itself. A connection
/// answering an event stream has no deadline.
final class RequestDeadlines {
    static let limit: Duration = .seconds(15)

    /// One connection's deadline; lives in `open` until the connection closes or expires.
    final class Entry {
        let bev: OpaquePointer
        var connection: OpaquePointer?
        let timer: Timer
        init(bev: OpaquePointer, timer: Timer) {
            self.bev = bev
            self.timer = timer
        }
    }

    private let loop: EventLoop
    private var open: [OpaquePointer: Entry] = [:]
    private var unadopted: [Entry] = []
    private lazy var adopter = Timer(loop: loop) { [unowned self] in adopt() }

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// A new connection's bufferevent, its deadline armed.
    func make(_ base: OpaquePointer) -> OpaquePointer? {
        guard let bev = bufferevent_socket_new(base, -1, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else { return nil }
        let entry = Entry(bev: bev, timer: Timer(loop: loop) { [unowned self] in expire(bev) })
        entry.timer.schedule(after: Self.limit)
        open[bev] = entry
        unadopted.append(entry)
        adopter.fireSoon()
        return bev
    }

    /// Each new connection exists now (evhttp made it in the accept callback that just ended):
    /// hear of its close, so that no deadline outlives it.
    private func adopt() {
        for entry in unadopted where open[entry.bev] === entry {
            var arg: UnsafeMutableRawPointer?
            bufferevent_getcb(entry.bev, nil, nil, nil, &arg)
            guard let arg else { continue }
            let connection = OpaquePointer(arg)
            entry.connection = connection
            evhttp_connection_set_closecb(connection, apiConnectionClosed, Unmanaged.passUnretained(self).toOpaque())
        }
        unadopted.removeAll()
    }

    /// A request arrived whole on the connection of `request`: the next one has 15 s again.
    func served(_ request: OpaquePointer, streaming: Bool) {
        guard let connection = evhttp_request_get_connection(request),
              let bev = evhttp_connection_get_bufferevent(connection), let entry = open[bev] else { return }
        if streaming {
            // The stream sets its own close callback; the deadline goes.
            forget(entry)
        } else {
            entry.timer.schedule(after: Self.limit)
        }
    }

    fileprivate func closed(_ connection: OpaquePointer) {
        guard let bev = evhttp_connection_get_bufferevent(connection), let entry = open[bev] else { return }
        forget(entry)
    }

    private func expire(_ bev: OpaquePointer) {
        guard let entry = open[bev] else { return }
        forget(entry)
        let fd = bufferevent_getfd(bev)
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func forget(_ entry: Entry) {
        entry.timer.cancel()
        if let connection = entry.connection { evhttp_connection_set_closecb(connection, nil, nil) }
        open[entry.bev] = nil
    }

    /// Cancels every deadline (the server is freed).
    func cancelAll() {
        open.values.forEach(forget)
        unadopted.removeAll()
    }
}

private func apiConnectionClosed(_ connection: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) {
    guard let connection, let arg else { return }
    Unmanaged<RequestDeadlines>.fromOpaque(arg).takeUnretainedValue().closed(connection)
}
