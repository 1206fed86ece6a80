/// `recording.json`: what made a recording, for `faultline report` and `faultline replay`.
///
///     {"v":1,"faultline":"0.1.0","command":"run","started":"2026-12-01T00:45:09.123456Z",
///      "seed":42,"capture":true,"captureLimit":256000000,"redacted":true}
enum RecordingInfo {
    /// The object's text; `seed` is left out when the command had none.
    static func json(command: String, seed: UInt64?, options: RecordingOptions, started: String) -> String {
        var object = JSONObject()
        object["v"] = .int(Event.jsonSchemaVersion)
        object["faultline"] = .string(FaultlineVersion.current)
        object["command"] = .string(command)
        object["started"] = .string(started)
        if let seed { object["seed"] = .int(seed) }
        object["capture"] = .bool(options.capture)
        object["captureLimit"] = .int(options.captureLimit)
        object["redacted"] = .bool(options.redact)
        return JSONValue.object(object).text + "\n"
    }
}
