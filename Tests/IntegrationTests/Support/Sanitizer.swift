import Glibc
import XCTest

/// Whether this test process runs under AddressSanitizer (`scripts/test --asan` builds it with
/// `--sanitize=address`), and with it the `faultline` binary built beside it. Read from the
/// process itself (the ASan runtime exports `__asan_init`), so a plain `swift test
/// --sanitize=address` knows it too.
///
/// Under ASan two kinds of check measure ASan rather than faultline, and only those adapt:
/// - RSS: freed memory waits in ASan's quarantine (256 MB) before it is reused, and shadow
///   memory grows with the heap, so RSS grows with every allocation whether or not anything
///   leaks. RSS bounds are skipped; LeakSanitizer checks leaks instead, in every `faultline`
///   process at its exit, and the normal run keeps checking RSS.
/// - CPU time: instrumented code runs about 3 times slower (`sanitizerSlowdown`).
let addressSanitized: Bool = dlsym(nil, "__asan_init") != nil

/// How much slower the code under test runs: 3 under AddressSanitizer, else 1. Multiplies only
/// absolute time bounds; ratios between two runs of the same build need no allowance.
let sanitizerSlowdown: Double = addressSanitized ? 3 : 1

/// Long client runs judged by their verdicts (a shipped scenario's 11–33 s timeline around an
/// example client) are skipped under AddressSanitizer: what they check is the client's timing
/// and the verdict, which the normal run checks, while the code they reach in `faultline run`
/// is covered under ASan by the short scenario tests (ScenarioExpectationRunTests,
/// ScenarioCommandRunTests, RunOutputTests…). CI runs the suite twice; this keeps the ASan pass
/// to what it adds.
func skipLongClientRunUnderAddressSanitizer() throws {
    if addressSanitized {
        throw XCTSkip("a long client run judged by its verdict: the normal run checks it")
    }
}
