import Glibc

extension Link {
    /// Turns the client away with a server's own words (`redis.max_clients`): they fit in the
    /// socket's buffer, so one write sends them, then a FIN follows.
    func respondAndClose(_ answer: String, for fault: String) {
        fired(fault, "rejected")
        log.debug("\(fault): answering \(answer.debugDescription) and closing")
        var bytes = answer
        bytes.withUTF8 { text in
            guard let start = text.baseAddress else { return }
            capture?.sent(.downstream, UnsafeRawBufferPointer(text))
            if let clientTLS {
                _ = clientTLS.write(start, text.count)
                clientTLS.closeNotify()
            } else {
                _ = Glibc.write(client, start, text.count)
            }
        }
        close(resetClient: false, resetUpstream: false)
    }
}
