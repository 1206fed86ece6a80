/// Responses faultline writes itself (`http.respond`, `http.ws_reject`, and 400s to garbage),
/// shaped as an ordinary server's: a status line, Content-Type, Content-Length, the preset's
/// headers, then the body.
enum HTTPAnswer {
    /// The response's bytes. `close` adds `Connection: close` (the connection ends after it);
    /// `keepAliveHTTP10` answers an HTTP/1.0 keep-alive request in kind; `bodiless` leaves the
    /// body out (a HEAD request) while Content-Length still says how long it would be.
    static func bytes(status: Int, body: String?, headers: [(name: String, value: String)],
                      close: Bool, keepAliveHTTP10: Bool = false, bodiless: Bool = false) -> [UInt8] {
        let reason = reasonPhrase(status)
        let text = body ?? (status == 204 || status == 304 ? "" : "{\"error\":\"\(reason)\",\"status\":\(status)}")
        var fields: [(String, String)] = []
        if status != 204 && status != 304 {
            let json = text.first == "{" || text.first == "["
            fields.append(("Content-Type", json ? "application/json" : "text/plain; charset=utf-8"))
            fields.append(("Content-Length", String(text.utf8.count)))
        }
        for header in headers {
            fields.removeAll { $0.0.lowercased() == header.name.lowercased() }
            fields.append((header.name, header.value))
        }
        if close {
            fields.append(("Connection", "close"))
        } else if keepAliveHTTP10 {
            fields.append(("Connection", "keep-alive"))
        }
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (bodiless ? [] : Array(text.utf8))
    }

    /// faultline's answer to bytes it cannot forward (`error.status`: 400, 431, 501, 505),
    /// after which the connection closes, as nginx and Node answer them.
    static func refusal(_ error: HTTPError) -> [UInt8] {
        bytes(status: error.status, body: "{\"error\":\"\(reasonPhrase(error.status))\",\"status\":\(error.status)}",
              headers: [], close: true)
    }

    /// The status line `http.status` puts in place of the upstream's.
    static func statusLine(_ status: Int, minorVersion: Int) -> [UInt8] {
        Array("HTTP/1.\(minorVersion) \(status) \(reasonPhrase(status))\r\n".utf8)
    }

    /// RFC 9110's reason phrases (and 429's from RFC 6585); "Status N" for others.
    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
