import Glibc
import Logging

/// The control API served on an address: the `ControlAPI` over a `ControlPlane`, on evhttp.
/// What `faultline serve` and `faultline run --api` start.
public final class ControlServer {
    /// The API's logic (proxies, scenarios, events, metrics).
    public let api: ControlAPI
    private let server: APIServer

    /// Binds `address` and serves `plane`. A non-loopback address needs a `token`: anyone who
    /// can reach the port could otherwise cut the traffic of every service behind the proxies.
    /// `openToNetwork` waives that, said out loud in the log: inside a container the API must
    /// listen beyond loopback, and Toxiproxy's clients cannot send a token.
    public init(address: SocketAddress, plane: ControlPlane, token: String?, openToNetwork: Bool = false,
                log: Logger) throws {
        if token == nil, !address.isLoopback {
            guard openToNetwork else { throw ControlServerError.tokenRequired(address) }
            log.warning("the API on \(address) takes requests from anyone who can reach it, without a token (--insecure-no-token)")
        }
        if let token, token.utf8.count < 16 || token.contains(where: { $0.isWhitespace }) {
            throw ControlServerError.weakToken
        }
        let scenarios = ScenarioControl(plane: plane, log: log)
        let api = ControlAPI(plane: plane, scenarios: scenarios, token: token, log: log)
        self.api = api
        server = try APIServer(address: address, loop: plane.loop, log: log) { api.handle($0) }
        log.info("API listening on http://\(server.address)\(token == nil ? "" : " (bearer token required)")")
    }

    /// The bound address (port 0 becomes the kernel's choice).
    public var address: SocketAddress { server.address }

    /// Ends every open event stream; the server itself closes when this object goes away.
    /// Their last chunks go out on the next loop turns: run the loop a little after this
    /// (`EventLoop.run(for:)`) or streaming clients see the connection cut.
    public func finishStreams() {
        api.finishStreams()
    }
}

/// Why the API cannot be served as asked.
public enum ControlServerError: Error, CustomStringConvertible {
    case tokenRequired(SocketAddress)
    case weakToken

    public var description: String {
        switch self {
        case .tokenRequired(let address):
            "\(address) is reachable from other hosts: give --token (at least 16 characters) so only holders of it can drive the proxies, or listen on 127.0.0.1 (in a container whose clients cannot send a token, e.g. Toxiproxy's, --insecure-no-token)"
        case .weakToken:
            "the token must be at least 16 characters without spaces (e.g. openssl rand -hex 16)"
        }
    }
}

extension SocketAddress {
    /// Whether this is the any-address (`0.0.0.0` or `::`).
    var isUnspecified: Bool {
        withUnsafeBytes(of: storage) { raw -> Bool in
            if family == AF_INET {
                return raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, as: in_addr.self).s_addr == 0
            }
            return raw[8..<24].allSatisfy { $0 == 0 }
        }
    }

    /// Whether only this host can reach the address: 127.0.0.0/8, ::1, or ::ffff:127.x.
    public var isLoopback: Bool {
        withUnsafeBytes(of: storage) { raw -> Bool in
            if family == AF_INET {
                let address = raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, as: in_addr.self)
                return UInt32(bigEndian: address.s_addr) >> 24 == 127
            }
            let bytes = Array(raw[8..<24])
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            return bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        }
    }
}
