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

    /// `--connect-timeout`: a duration above 0 (a connect cannot succeed in no time at all).
    static func connectTimeout(_ text: String) throws -> Duration {
        let timeout: Duration
        do { timeout = try DurationText.parse(text) } catch { throw InputError("--connect-timeout", error) }
        guard timeout > .zero else {
            throw InputError("--connect-timeout", "'\(text)' is out of range: a connect timeout must be above 0 (e.g. 500ms, 10s)")
        }
        return timeout
    }

    /// `--protocol`: a protocol faultline speaks today.
    static func proxyProtocol(_ text: String) throws -> ProxyProtocol {
        do { return try ProxyProtocol.parse(text) } catch { throw InputError("--protocol", error) }
    }
}
