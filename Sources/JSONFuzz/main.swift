import Glibc

// SwiftPM links every executable with its own entry point renamed to `main`, so libFuzzer's
// `main` never gets in; this one hands the command line to libFuzzer's driver instead.

/// libFuzzer's driver: parses libFuzzer's flags from the command line and runs `callback`.
@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, jsonFuzzOneInput))
