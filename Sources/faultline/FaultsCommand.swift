import ArgumentParser
import Faultline

/// `faultline faults`: every fault kind with its parameters, defaults and an example,
/// printed from the registry that implements them.
struct FaultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "List every fault kind with its parameters, defaults and an example.")

    func run() {
        print(FaultCatalog.text())
    }
}
