/// What the control API does to a proxy in place: turn it off and on, point it elsewhere. The
/// object stays the same, so a scenario's timeline that holds it keeps acting on it.
extension Proxy {
    /// Whether the proxy is started and not disabled (Toxiproxy's `enabled`). A proxy whose
    /// port `tcp.down` closed is still enabled: the fault, not the user, closed it.
    public var isEnabled: Bool { listening }

    /// Closes the listening socket (connects are then refused) and every open link at once,
    /// as Toxiproxy's `enabled: false` does. Faults stay. The address bound is kept, so a
    /// proxy asked to listen on port 0 comes back on the same port.
    public func disable() {
        guard listening else { return }
        if let bound = listenAddress { requestedListen = bound }
        listening = false
        rebindTimer?.cancel()
        listener?.close()
        listener = nil
        boundWhileSuspended = nil
        log.info("disabled: not listening, \(links.count) links closed")
        links.values.sorted { $0.id < $1.id }.forEach { $0.abandon() }
    }

    /// Listens again after `disable()` (or for the first time, as `start()`).
    public func enable() throws {
        guard !listening else { return }
        try start()
    }

    /// Points the proxy at another listen address and/or upstream, as Toxiproxy's update does:
    /// when either differs, it stops (links closed) and, if it was enabled, listens again on the
    /// new address. Throws when the new address cannot be bound; the proxy is then disabled
    /// with the new addresses kept (Toxiproxy leaves it so too).
    public func retarget(listen: SocketAddress, upstream newUpstream: SocketAddress) throws {
        let wasEnabled = listening
        disable()
        requestedListen = listen
        if newUpstream != upstream {
            upstream = newUpstream
            upstreamTLSContext = nil
        }
        if wasEnabled { try start() }
    }

    /// The listen address as configured: the bound one while listening, else the one it will
    /// bind (port 0 until the first start).
    public var configuredListen: SocketAddress { listenAddress ?? requestedListen }

    /// Puts `fault` in the place of the active fault with its name (Toxiproxy's toxic update):
    /// live links lose the old one and get the new one at once; the order of faults is kept.
    /// When the new one is refused, the old one stays.
    public func replace(_ fault: Fault) throws {
        guard let index = faultStates.firstIndex(where: { $0.fault.name == fault.name }) else {
            throw FaultSpecError(text: fault.name, reason: "no fault with this name is active on proxy \(name)")
        }
        let old = faultStates[index].fault
        try Self.checkLayer(fault, options: options, proxy: name)
        removeFault(named: fault.name)
        do {
            try add(fault)
        } catch {
            try? add(old)
            faultStates.insert(faultStates.removeLast(), at: index)
            throw error
        }
        faultStates.insert(faultStates.removeLast(), at: index)
    }
}
