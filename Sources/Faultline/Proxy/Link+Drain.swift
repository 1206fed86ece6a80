/// How a link ends when the proxy shuts down gracefully.
extension Link {
    /// Graceful end: read nothing more, write what was read, then FIN both ways. A protocol
    /// link whose requests went on (held ones released now) reads their answers first.
    func drainAndClose() {
        guard isConnected, pipe(.downstream) != nil else { return close(resetClient: false, resetUpstream: false) }
        session?.releaseHolds()
        pipe(.upstream)?.stopReading()
        if session?.awaitsAnswers == true {
            awaitingAnswers = true
        } else {
            pipe(.downstream)?.stopReading()
        }
    }

    /// The session has every answer it waited for: a draining link stops reading the upstream.
    func answersSettled() {
        guard awaitingAnswers else { return }
        awaitingAnswers = false
        pipe(.downstream)?.stopReading()
    }
}
