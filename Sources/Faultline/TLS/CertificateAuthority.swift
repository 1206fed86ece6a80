import Foundation
import Glibc

/// The CA every terminated TLS connection's leaf chains to: a root (10 years, EC P-256,
/// CN "faultline root CA") and an intermediate below it (5 years, CN "faultline intermediate
/// CA"). One per working directory, cached in `.faultline/ca` so that a client told to trust
/// `ca.pem` once keeps trusting every later run's certificates.
///
/// The cache holds `root.pem`, `root.key`, `intermediate.pem` and `intermediate.key`; the
/// directory is 0700, keys 0600, certificates 0644.
public final class CertificateAuthority: @unchecked Sendable {
    // @unchecked: every stored property is immutable and the wrapped OpenSSL objects are
    // only read after init (see X509Certificate and PrivateKey).

    /// The cache directory it was read from or written to.
    public let directory: String
    /// Whether this call made the CA (false: it was read from the cache).
    public let created: Bool
    /// The root certificate as PEM: what a client is told to trust (`ca.pem`).
    public let rootPEM: String

    let root: X509Certificate
    let rootKey: PrivateKey
    let intermediate: X509Certificate
    let intermediateKey: PrivateKey

    private init(directory: String, created: Bool, hierarchy: Hierarchy) throws(CertificateError) {
        self.directory = directory
        self.created = created
        root = hierarchy.root
        rootKey = hierarchy.rootKey
        intermediate = hierarchy.intermediate
        intermediateKey = hierarchy.intermediateKey
        rootPEM = try root.pemText()
    }

    /// The CA cached in `directory`, made and cached there first if there is none.
    ///
    /// Two processes starting at once both make a CA in a temporary directory beside
    /// `directory` and rename(2) it into place; rename fails for the one that comes second
    /// (the name now holds a non-empty directory), which then reads the winner's, so both use
    /// one CA and nobody ever reads a half-written cache. A cache that cannot be read or does
    /// not hold a matching root and intermediate is an error naming the file.
    public static func openOrCreate(directory: String = ".faultline/ca") throws(CertificateError) -> CertificateAuthority {
        if CertificateFiles.exists(directory) { return try load(directory) }
        let hierarchy = try Hierarchy.make(rootName: "faultline root CA", intermediateName: "faultline intermediate CA")
        let (parent, name) = CertificateFiles.split(directory)
        try CertificateFiles.makeDirectories(parent)
        let staging = "\(parent)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(staging, 0o700) == 0 else { throw .system("creating the CA cache directory \(staging)", errno) }
        defer { try? FileManager.default.removeItem(atPath: staging) }  // gone already once renamed
        guard chmod(staging, 0o700) == 0 else { throw .system("creating the CA cache directory \(staging)", errno) }
        for file in CacheFile.allCases { try CertificateFiles.write(try file.pem(of: hierarchy), to: "\(staging)/\(file.rawValue)", mode: file.mode) }
        if rename(staging, directory) == 0 { return try CertificateAuthority(directory: directory, created: true, hierarchy: hierarchy) }
        let code = errno
        guard code == ENOTEMPTY || code == EEXIST else { throw .system("moving the new CA into \(directory)", code) }
        return try load(directory)
    }

    /// Reads and cross-checks the four cache files.
    private static func load(_ directory: String) throws(CertificateError) -> CertificateAuthority {
        func path(_ file: CacheFile) -> String { "\(directory)/\(file.rawValue)" }
        func refuse(_ file: CacheFile, _ reason: String) -> CertificateError {
            CertificateError("reading the CA cache file \(path(file))",
                             "\(reason); delete the directory \(directory) and faultline makes a new CA "
                             + "(clients that trusted the old root then need the new ca.pem)")
        }
        func text(_ file: CacheFile) throws(CertificateError) -> String {
            do { return try CertificateFiles.read(path(file)) } catch { throw refuse(file, error.reason) }
        }
        func certificate(_ file: CacheFile) throws(CertificateError) -> X509Certificate {
            let pem = try text(file)
            do { return try X509Certificate(pem: pem, what: path(file)) } catch { throw refuse(file, "not a PEM certificate (\(error.reason))") }
        }
        func key(_ file: CacheFile) throws(CertificateError) -> PrivateKey {
            let pem = try text(file)
            do { return try PrivateKey(pem: pem, what: path(file)) } catch { throw refuse(file, "not a PEM private key (\(error.reason))") }
        }
        let hierarchy = Hierarchy(root: try certificate(.root), rootKey: try key(.rootKey),
                                  intermediate: try certificate(.intermediate), intermediateKey: try key(.intermediateKey))
        guard hierarchy.root.matches(hierarchy.rootKey) else { throw refuse(.rootKey, "not the key of \(path(.root))") }
        guard hierarchy.intermediate.matches(hierarchy.intermediateKey) else {
            throw refuse(.intermediateKey, "not the key of \(path(.intermediate))")
        }
        guard hierarchy.intermediate.isSigned(by: hierarchy.rootKey) else { throw refuse(.intermediate, "not signed by the root in \(path(.root))") }
        return try CertificateAuthority(directory: directory, created: false, hierarchy: hierarchy)
    }

    /// The cache's files, with the modes they are written with.
    private enum CacheFile: String, CaseIterable {
        case root = "root.pem"
        case rootKey = "root.key"
        case intermediate = "intermediate.pem"
        case intermediateKey = "intermediate.key"

        var mode: mode_t { self == .root || self == .intermediate ? 0o644 : 0o600 }

        func pem(of hierarchy: Hierarchy) throws(CertificateError) -> String {
            switch self {
            case .root: try hierarchy.root.pemText()
            case .rootKey: try hierarchy.rootKey.pemText()
            case .intermediate: try hierarchy.intermediate.pemText()
            case .intermediateKey: try hierarchy.intermediateKey.pemText()
            }
        }
    }
}

/// A root and the intermediate it signed, with their keys: the cached CA, or the throwaway
/// one `untrusted_root` presents.
struct Hierarchy {
    let root: X509Certificate
    let rootKey: PrivateKey
    let intermediate: X509Certificate
    let intermediateKey: PrivateKey

    /// A new root (10 years) and intermediate (5 years), both EC P-256, valid from an hour
    /// ago so that a client whose clock runs a little behind still accepts them.
    static func make(rootName: String, intermediateName: String) throws(CertificateError) -> Hierarchy {
        let now = Date()
        let start = now.addingTimeInterval(-3600)
        let year: TimeInterval = 365.25 * 86400
        let rootKey = try PrivateKey.generate(.p256)
        let root = try CertificateBuilder(commonName: rootName, role: .authority(pathLength: 1),
                                          notBefore: start, notAfter: now.addingTimeInterval(10 * year))
            .build(key: rootKey, issuer: nil)
        let intermediateKey = try PrivateKey.generate(.p256)
        let intermediate = try CertificateBuilder(commonName: intermediateName, role: .authority(pathLength: 0),
                                                  notBefore: start, notAfter: now.addingTimeInterval(5 * year))
            .build(key: intermediateKey, issuer: (root, rootKey))
        return Hierarchy(root: root, rootKey: rootKey, intermediate: intermediate, intermediateKey: intermediateKey)
    }
}
