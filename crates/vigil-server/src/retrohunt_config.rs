//! The retro-hunt keys of `[intel]` (vigil-pipeline's `retrohunt`):
//!
//! ```toml
//! [intel]
//! retro_hunt_days = 7          # days of stored events searched for new indicators; 0 = off
//! retro_hunt_max_events = 1000 # events read per indicator value and indexed field
//! retro_hunt_max_scan = 200000 # newest events of the window scanned for values no index finds
//! ```
//!
//! Environment: `VIGIL_INTEL_RETRO_HUNT_DAYS`, `VIGIL_INTEL_RETRO_HUNT_MAX_EVENTS`,
//! `VIGIL_INTEL_RETRO_HUNT_MAX_SCAN`.

use crate::config::{ConfigError, Env};
use vigil_pipeline::retrohunt::RetroHuntConfig;

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

fn pick<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    env: Env,
    var: &str,
    key: &str,
    file: Option<T>,
    range: (T, T),
) -> Result<Option<T>, ConfigError> {
    let v = match env(var).filter(|v| !v.trim().is_empty()) {
        Some(text) => Some(
            text.trim()
                .parse::<T>()
                .map_err(|_| invalid(key, format!("'{text}' from {var} is not a valid value")))?,
        ),
        None => file,
    };
    match v {
        Some(v) if v < range.0 || v > range.1 => Err(invalid(
            key,
            format!("{v} is not between {} and {}", range.0, range.1),
        )),
        v => Ok(v),
    }
}

/// The retro-hunt settings from the `[intel]` keys (file values, then the environment),
/// with the severity of alerts whose indicator states no confidence.
pub fn resolve(
    days: Option<u32>,
    max_events: Option<usize>,
    max_scan: Option<usize>,
    env: Env,
    default_severity: vigil_model::Severity,
) -> Result<RetroHuntConfig, ConfigError> {
    let d = RetroHuntConfig::default();
    Ok(RetroHuntConfig {
        days: pick(
            env,
            "VIGIL_INTEL_RETRO_HUNT_DAYS",
            "intel.retro_hunt_days",
            days,
            (0, 366),
        )?
        .unwrap_or(d.days),
        max_events_per_indicator: pick(
            env,
            "VIGIL_INTEL_RETRO_HUNT_MAX_EVENTS",
            "intel.retro_hunt_max_events",
            max_events,
            (1, 100_000),
        )?
        .unwrap_or(d.max_events_per_indicator),
        max_scan_events: pick(
            env,
            "VIGIL_INTEL_RETRO_HUNT_MAX_SCAN",
            "intel.retro_hunt_max_scan",
            max_scan,
            (0, 100_000_000),
        )?
        .unwrap_or(d.max_scan_events),
        default_severity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::Severity;

    fn with(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn seven_days_by_default_file_then_environment() {
        let none = with(&[]);
        let c = resolve(None, None, None, &none, Severity::Medium).expect("default");
        assert_eq!(c, RetroHuntConfig::default());
        assert_eq!(c.days, 7);
        let c = resolve(Some(0), Some(50), Some(0), &none, Severity::High).expect("file");
        assert_eq!(
            (c.days, c.max_events_per_indicator, c.max_scan_events),
            (0, 50, 0)
        );
        assert_eq!(c.default_severity, Severity::High);
        let env = with(&[
            ("VIGIL_INTEL_RETRO_HUNT_DAYS", "30"),
            ("VIGIL_INTEL_RETRO_HUNT_MAX_SCAN", "1000"),
        ]);
        let c = resolve(Some(3), None, None, &env, Severity::Medium).expect("env");
        assert_eq!((c.days, c.max_scan_events), (30, 1000));
    }

    #[test]
    fn bad_values_name_their_key() {
        let none = with(&[]);
        let key = |r: Result<RetroHuntConfig, ConfigError>| match r {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        };
        assert_eq!(
            key(resolve(Some(400), None, None, &none, Severity::Low)),
            "intel.retro_hunt_days"
        );
        assert_eq!(
            key(resolve(None, Some(0), None, &none, Severity::Low)),
            "intel.retro_hunt_max_events"
        );
        let env = with(&[("VIGIL_INTEL_RETRO_HUNT_DAYS", "a week")]);
        assert_eq!(
            key(resolve(None, None, None, &env, Severity::Low)),
            "intel.retro_hunt_days"
        );
    }
}
