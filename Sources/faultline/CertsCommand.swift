import ArgumentParser
import Faultline
import Foundation

/// `faultline certs`: writes the certificates a server with one certificate defect presents,
/// so a client's handling of it can be tested against any server (openssl s_server, nginx),
/// not only through faultline's own proxy.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Write a server certificate bundle with a chosen defect: ca.pem, cert.pem and key.pem.",
        usage: "faultline certs --profile <profile> [--host <name> ...] [--key <key>] --out <dir>",
        discussion: """
            The leaf is signed by this directory's faultline CA, made in .faultline/ca on first use \
            and reused after, so a client told to trust ca.pem once keeps trusting later bundles. \
            ca.pem holds that root only: self_signed and untrusted_root stay untrusted.

            Profiles, as a verifying client meets them:
            \(profileList)

            cert.pem is the leaf, then the certificates sent after it: the file nginx's \
            ssl_certificate takes. openssl s_server reads only the first certificate of -cert; give \
            it the others with -cert_chain. A server at OpenSSL's default security level refuses to \
            load weak_signature (SHA-1) and weak_key (RSA-1024): lower it (s_server -cipher \
            DEFAULT:@SECLEVEL=0) so that the client is the one to refuse them.

            Examples:
              faultline certs --profile expired --out /tmp/expired
              faultline certs --profile valid --host localhost --host 127.0.0.1 --key rsa --out certs
              curl --cacert certs/ca.pem https://localhost:8443/
            """)

    /// One line per certificate profile, from the code that defines them.
    private static var profileList: String {
        CertificateProfile.allCases.map { "  \($0.rawValue): \($0.summary)" }.joined(separator: "\n")
    }

    // Lists only to refuse a flag given twice instead of silently keeping the last value.
    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("The certificate defect to present (listed above).", valueName: "profile"))
    var profile: [String] = []

    @Option(name: .customLong("host"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A name or IP address the leaf is for, repeatable (default: localhost); the first is its subject's CN.",
                               valueName: "name"))
    var hosts: [String] = []

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("The leaf's key: ec (P-256, the default) or rsa (2048); weak_key always has RSA-1024.", valueName: "key"))
    var key: [String] = []

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("The directory to write ca.pem, cert.pem and key.pem into (made if missing).", valueName: "dir"))
    var out: [String] = []

    func run() throws {
        let settings = try serverTLS()
        let directory = try OptionValues.single(out, "--out", example: "/tmp/expired")
        // A CA that cannot be read or made is no mistake in the flags, but nothing can be done
        // until it is fixed: exit 2 (as proxy and run do), naming the file, without a flag.
        let authority: CertificateAuthority
        let identity: ServerIdentity
        do {
            authority = try CertificateAuthority.openOrCreate()
            identity = try authority.identity(for: settings)
        } catch {
            FaultlineCommand.printError("faultline: \(error)")
            throw ExitCode(2)
        }
        do { try authority.writeBundle(identity, to: directory) } catch { throw InputError("--out", error) }
        let names = identity.presentedNames
        let chain = names.count > 1 ? ", then " + names.dropFirst().joined(separator: ", ") : " alone"
        print("wrote \(directory)/ca.pem: the root to trust (faultline root CA, \(authority.created ? "made now in" : "from") \(authority.directory))")
        print("wrote \(directory)/cert.pem: the leaf for \(names.first ?? "")\(chain), as the server sends them")
        print("wrote \(directory)/key.pem: the leaf's \(identity.keyDescription) key (mode 0600)")
        let met = settings.profile.summary.replacingOccurrences(of: "'HOST'", with: "'\(settings.hosts.first ?? "")'")
        print("profile \(settings.profile.rawValue): \(met)")
    }

    /// `--profile`, `--host` and `--key` as the proxy's TLS settings, refused as a scenario's
    /// `tls:` would refuse them.
    private func serverTLS() throws -> ServerTLS {
        var settings = ServerTLS()
        let profileText = try OptionValues.single(profile, "--profile", example: "expired")
        do { settings.profile = try TLSText.profile(profileText) } catch { throw InputError("--profile", error) }
        if !hosts.isEmpty {
            do { settings.hosts = try TLSText.hosts(hosts) } catch { throw InputError("--host", error) }
        }
        do { try CertificateHosts.check(settings.hosts) } catch { throw InputError("--host", error.reason) }
        if key.count > 1 { _ = try OptionValues.single(key, "--key", example: "rsa") }
        if let keyText = key.first {
            do { settings.key = try TLSText.key(keyText) } catch { throw InputError("--key", error) }
            if let conflict = TLSText.keyConflict(settings.key, profile: settings.profile) { throw InputError("--key", conflict) }
        }
        return settings
    }
}
