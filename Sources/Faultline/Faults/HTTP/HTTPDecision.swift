/// What the proxy's HTTP faults decide for one request: the first fault (in the order they
/// were added) that answers or aborts wins; delays add up to the longest; of the response
/// shapers (drip, cut, status, ws_close) the first of each kind applies.
struct HTTPDecision {
    /// Hold the request this long before it goes on (`http.delay before: request`).
    private(set) var requestDelay: (Duration, String)?
    /// Hold the response's first byte this long after the request arrived.
    private(set) var responseDelay: (Duration, String)?
    private(set) var plan: HTTPResponsePlan?

    /// No fault acts.
    init() {}

    init(session: HTTPSession, head: HTTPHead) {
        for state in session.proxy.faultStates {
            guard let rule = state.http, rule.match.matches(head) else { continue }
            if case .respond(_, _, _, true) = rule.action, !head.isWebSocketUpgrade { continue }
            if case .wsClose = rule.action, !head.isWebSocketUpgrade { continue }
            guard Self.selects(state, session) else { continue }
            apply(rule.action, of: state.fault.name, head: head, session: session)
        }
    }

    private mutating func apply(_ action: HTTPRule.Action, of name: String, head: HTTPHead, session: HTTPSession) {
        let terminal = plan?.answer != nil || plan?.abort != nil
        switch action {
        case .respond(let status, let body, let headers, _) where !terminal:
            // A body faultline does not read (100-continue, not sent yet) leaves the connection
            // in an unknown state: the answer closes it, as servers do.
            let close = !head.keepsAlive || head.expectContinue && head.contentLength ?? (head.chunked ? 1 : 0) > 0
            let bytes = HTTPAnswer.bytes(status: status, body: body, headers: headers, close: close,
                                         keepAliveHTTP10: head.minorVersion == 0 && !close, bodiless: head.methodIs("HEAD"))
            let plan = made()
            plan.answer = bytes
            plan.answerStatus = status
            plan.closeAfter = close
            session.decided(name, "answered")
        case .abort(let reset, nil) where !terminal:
            made().abort = (reset, name)
        case .abort(let reset, let after?):
            if plan?.cut == nil { made().cut = (after, reset, false, name) }
        case .truncate(let after):
            if plan?.cut == nil { made().cut = (after, false, true, name) }
        case .delayRequest(let wait):
            if wait > (requestDelay?.0 ?? .zero) { requestDelay = (wait, name) }
            session.decided(name, "delayed")
        case .delayResponse(let wait):
            if wait > (responseDelay?.0 ?? .zero) {
                responseDelay = (wait, name)
                made().delayedBy = name
            }
            session.decided(name, "delayed")
        case .drip(let rate):
            if plan?.drip == nil { made().drip = (rate, name) }
        case .status(let code):
            if plan?.status == nil { made().status = (code, name) }
        case .wsClose(let after, let code, let reason):
            if plan?.wsClose == nil { made().wsClose = (after, code, reason, name) }
        default:
            break
        }
    }

    private mutating func made() -> HTTPResponsePlan {
        if let plan { return plan }
        let fresh = HTTPResponsePlan()
        plan = fresh
        return fresh
    }

    /// `first`, `every` and `probability` over the requests the rule matched, over the proxy;
    /// the coin depends on (seed, fault, link, request).
    static func selects(_ state: FaultState, _ session: HTTPSession) -> Bool {
        state.seen += 1
        let id = session.linkID &* 0x1_0000_0001 ^ session.requestIndex
        return FaultSelection.applies(state.fault, ordinal: state.seen, linkID: id, seed: session.proxy.seed)
    }
}
