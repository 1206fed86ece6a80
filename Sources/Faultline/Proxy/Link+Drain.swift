/// How a link ends when the proxy shuts down gracefully.
extension Link {
    /// Graceful end: read nothing more, write what was read, then FIN both ways. A protocol
    /// link whose requests went on (held ones released now) reads their answers first.
    func drainAndClose() {
        guard isConnected, pipe(.downstream) != nil else { return close(resetClient: false, resetUpstream: false) }
        session?.releaseHolds()
        if session?.awaitsAnswers == true {
            // No FIN to the upstream yet: some servers (aiohttp) take a half-close for a client
            // that left and drop the request it was answering.
            awaitingAnswers = true
            pipe(.upstream)?.paused = true
        } else {
            pipe(.upstream)?.stopReading()
            pipe(.downstream)?.stopReading()
        }
    }

    /// The session has every answer it waited for: a draining link ends now.
    func answersSettled() {
        guard awaitingAnswers else { return }
        awaitingAnswers = false
        pipe(.upstream)?.stopReading()
        pipe(.downstream)?.stopReading()
    }
}
