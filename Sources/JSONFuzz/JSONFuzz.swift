@testable import Faultline

/// What libFuzzer runs on each input (`scripts/fuzz json`): the control API's JSON parser on the
/// bytes as a request body. A value it reads must write back as text that reads as the same
/// value (so answers built from it are valid JSON), and the API's body readers must answer the
/// same input without trapping: a proxy, a toxic, a populate list.
@_cdecl("LLVMFuzzerTestOneInput")
public func jsonFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    if let value = try? JSONParser.parse(input) {
        let text = value.text
        guard let again = try? JSONParser.parse(text) else { fatalError("written JSON does not parse: \(text)") }
        if again != value { fatalError("JSON round trip changed the value: \(text)") }
        if again.text != text { fatalError("JSON writing is not stable: \(text)") }
    }
    if let object = try? BodyReader.object(input, known: ProxyJSON.fields, what: "a proxy") {
        _ = try? ProxyJSON.spec(object)
    }
    _ = try? ToxicJSON.fault(from: input)
    _ = try? ToxiproxyEndpoints.populateSpecs(input)
    return 0
}
