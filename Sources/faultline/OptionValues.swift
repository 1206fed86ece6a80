import Faultline

/// Flag values the commands read themselves instead of through ArgumentParser's types, so
/// every mistake is an `InputError` naming the flag, the value and the range. The flags are
/// declared with `parsing: .unconditional`: otherwise ArgumentParser takes `--seed -1` for a
/// flag named `-1` and says "Missing value".
enum OptionValues {
    /// `--seed`: any 64-bit whole number; nil when not given.
    static func seed(_ text: String?) throws -> UInt64? {
        guard let text else { return nil }
        do { return try NumberText.read(text, as: .seed) } catch { throw InputError("--seed", error) }
    }

    /// `--kill-after`: a duration from 0s (kill at once) to a year.
    static func killAfter(_ text: String) throws -> Duration {
        do { return try DurationText.parse(text) } catch { throw InputError("--kill-after", error) }
    }

    /// `--connect-timeout`: a duration above 0 (a connect cannot succeed in no time at all),
    /// so from 1us, the smallest duration, to 8760h.
    static func connectTimeout(_ text: String) throws -> Duration {
        let range = "'\(text)' is out of range: a connect timeout goes from 1us to 8760h (1 year), e.g. 500ms or 10s"
        let timeout: Duration
        do {
            timeout = try DurationText.parse(text)
        } catch where error.outOfRange {
            throw InputError("--connect-timeout", range)
        } catch {
            throw InputError("--connect-timeout", error)
        }
        guard timeout > .zero else { throw InputError("--connect-timeout", range) }
        return timeout
    }

    /// The one value of a required flag that may be given once; a second one is refused,
    /// not silently taken over the first.
    static func single(_ values: [String], _ flag: String, example: String) throws -> String {
        guard !values.isEmpty else { throw InputError(flag, "missing; give it once, e.g. \(flag) \(example)") }
        guard values.count == 1, let value = values.first else {
            throw InputError(flag, "given \(values.count) times (\(values.map { "'\($0)'" }.joined(separator: ", "))): give it once")
        }
        return value
    }

    /// `--fault` given twice with one name: the proxy would refuse the second after the
    /// first is logged as on. Checked before anything starts, with a name to add.
    static func uniqueFaultNames(_ faults: [Fault], specs: [String]) throws {
        var seen: Set<String> = []
        for (fault, spec) in zip(faults, specs) where !seen.insert(fault.name).inserted {
            let named = fault.name.contains(".") ? fault.kind.name.split(separator: ".").last.map(String.init) ?? "fault" : fault.name
            let (kind, parameters) = spec.contains(":") ? (String(spec.prefix { $0 != ":" }), String(spec.drop { $0 != ":" }.dropFirst())) : (spec, "")
            let kept = parameters.split(separator: ",").filter { !$0.hasPrefix("name=") }
            let suggestion = "\(kind):" + (kept + ["name=\(named)2"]).joined(separator: ",")
            throw InputError("--fault", "two faults are named \(fault.name): give one of them a name (\(suggestion))")
        }
    }

    /// `--protocol`: a protocol faultline speaks today.
    static func proxyProtocol(_ text: String) throws -> ProxyProtocol {
        do { return try ProxyProtocol.parse(text) } catch { throw InputError("--protocol", error) }
    }
}
