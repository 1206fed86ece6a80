import Faultline

/// What users see for what they write, shared by the parsing and loading tests.
enum InputCheck {
    /// Every `file:line:col: message` the loader reports for `yaml` (file `s.yaml`); none
    /// when it loads.
    static func errors(_ yaml: String) -> [String] {
        do {
            _ = try ScenarioLoader.load(yaml: yaml, file: "s.yaml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    /// The error `--fault TEXT` gets, or "no error".
    static func faultMessage(_ text: String) -> String {
        do {
            _ = try Fault(parsing: FaultSpec(parsing: text))
            return "no error"
        } catch {
            return "\(error)"
        }
    }
}
