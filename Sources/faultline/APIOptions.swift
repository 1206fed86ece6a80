import ArgumentParser
import Faultline
import Foundation
import Logging

/// `--api` and `--token`, shared by `serve` (where the API is the point, on 127.0.0.1:8474 by
/// default) and `run` (which serves it only when asked).
struct APIOptions: ParsableArguments {
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Serve the control API here (Toxiproxy-compatible): host:port or [v6]:port. An address "
                               + "other hosts can reach needs --token. serve: 127.0.0.1:8474 when not given.",
                               valueName: "addr"))
    var api: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Require Authorization: Bearer TOKEN on every API request (at least 16 characters); "
                               + "also read from FAULTLINE_API_TOKEN.", valueName: "token"))
    var token: String?

    @Flag(name: .customLong("insecure-no-token"),
          help: ArgumentHelp("Serve an API address other hosts can reach without a token: for containers whose clients "
                             + "(Toxiproxy's) cannot send one. Anyone who reaches the port can then drive the proxies."))
    var insecureNoToken = false

    /// The address to serve on, or nil when `run` was not asked to serve.
    func address(default fallback: String?) throws -> SocketAddress? {
        guard let text = api ?? fallback else {
            if token != nil { throw InputError("--token", "needs --api: the token guards the control API") }
            if insecureNoToken { throw InputError("--insecure-no-token", "needs --api") }
            return nil
        }
        do { return try SocketAddress(parsing: text) } catch { throw InputError("--api", error) }
    }

    /// `--token`, else FAULTLINE_API_TOKEN when set and not empty.
    var resolvedToken: String? {
        token ?? ProcessInfo.processInfo.environment["FAULTLINE_API_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Serves `plane` on the address, with these options' token and waiver.
    func serve(_ plane: ControlPlane, on address: SocketAddress, log: Logger) throws -> ControlServer {
        if insecureNoToken, resolvedToken != nil {
            throw InputError("--insecure-no-token", "and a token (--token or FAULTLINE_API_TOKEN) contradict each other; give one")
        }
        do {
            return try ControlServer(address: address, plane: plane, token: resolvedToken, openToNetwork: insecureNoToken, log: log)
        } catch let error as ControlServerError {
            if case .weakToken = error { throw InputError("--token", error) }
            throw InputError("--api", error)
        } catch {
            throw InputError("--api", error)
        }
    }
}
