//! Message catalogs of the web UI: `i18n/zh-CN.toml` and `i18n/en.toml`, embedded at build
//! time and parsed once. Keys are the dotted paths of the TOML tables (`nav.overview`).
//!
//! A missing key renders as the key itself, so a gap is visible on the page instead of
//! breaking it; the unit tests make sure both catalogs have the same keys and that every key
//! used by the templates and the UI code exists.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use vigil_model::Locale;

/// One language's messages.
#[derive(Debug)]
pub struct Catalog {
    pub locale: Locale,
    messages: BTreeMap<String, String>,
}

const ZH_CN: &str = include_str!("../../i18n/zh-CN.toml");
const EN: &str = include_str!("../../i18n/en.toml");

impl Catalog {
    /// Parses a catalog: nested tables flatten into dotted keys; every leaf must be a string.
    pub fn parse(locale: Locale, text: &str) -> Result<Self, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("catalog {}: {e}", locale.as_str()))?;
        let mut messages = BTreeMap::new();
        flatten(&mut messages, "", &table)
            .map_err(|e| format!("catalog {}: {e}", locale.as_str()))?;
        Ok(Self { locale, messages })
    }

    /// The catalog of a locale.
    pub fn get(locale: Locale) -> &'static Catalog {
        static ZH: OnceLock<Catalog> = OnceLock::new();
        static EN_CAT: OnceLock<Catalog> = OnceLock::new();
        let (cell, text) = match locale {
            Locale::ZhCn => (&ZH, ZH_CN),
            Locale::En => (&EN_CAT, EN),
        };
        cell.get_or_init(|| {
            Catalog::parse(locale, text).unwrap_or_else(|e| {
                // The catalogs are embedded and covered by tests; this only guards against a
                // broken build reaching production by showing keys instead of failing.
                tracing::error!(error = %e, "message catalog does not parse");
                Catalog {
                    locale,
                    messages: BTreeMap::new(),
                }
            })
        })
    }

    /// The message for `key`, or the key itself when the catalog lacks it.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.messages.get(key).map(String::as_str).unwrap_or(key)
    }

    /// The message for `key` with `{name}` placeholders replaced.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_string();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    /// The language code for `lang=` attributes and for taxonomy names (`zh-CN`, `en`).
    pub fn lang(&self) -> &'static str {
        self.locale.as_str()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.messages.contains_key(key)
    }
}

fn flatten(
    out: &mut BTreeMap<String, String>,
    prefix: &str,
    table: &toml::Table,
) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(out, &key, t)?,
            _ => return Err(format!("{key}: messages must be strings")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn parsed(locale: Locale, text: &str) -> Catalog {
        Catalog::parse(locale, text).expect("catalog parses")
    }

    #[test]
    fn both_catalogs_have_exactly_the_same_keys() {
        let zh = parsed(Locale::ZhCn, ZH_CN);
        let en = parsed(Locale::En, EN);
        let zh_keys: BTreeSet<&str> = zh.keys().collect();
        let en_keys: BTreeSet<&str> = en.keys().collect();
        let only_zh: Vec<_> = zh_keys.difference(&en_keys).collect();
        let only_en: Vec<_> = en_keys.difference(&zh_keys).collect();
        assert!(
            only_zh.is_empty() && only_en.is_empty(),
            "only in zh-CN: {only_zh:?}; only in en: {only_en:?}"
        );
        assert!(zh_keys.len() > 100, "{} keys", zh_keys.len());
        for k in &zh_keys {
            assert!(!zh.t(k).trim().is_empty(), "zh-CN {k} is empty");
            assert!(!en.t(k).trim().is_empty(), "en {k} is empty");
        }
    }

    #[test]
    fn placeholders_match_between_languages() {
        let zh = parsed(Locale::ZhCn, ZH_CN);
        let en = parsed(Locale::En, EN);
        let names = |s: &str| -> BTreeSet<String> {
            s.split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect()
        };
        for k in zh.keys() {
            assert_eq!(names(zh.t(k)), names(en.t(k)), "placeholders of {k}");
        }
    }

    fn ui_sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                ui_sources(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// Every `.t("…")` / `.tf("…")` in the templates and the UI sources, and every
    /// `"error.…"` / `"grade.…"` key handed around as a literal, names a catalog key.
    #[test]
    fn every_key_used_exists() {
        let zh = parsed(Locale::ZhCn, ZH_CN);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        ui_sources(&root.join("templates"), &mut files);
        ui_sources(&root.join("src/ui"), &mut files);
        let mut used = 0;
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            for marker in [".t(\"", ".tf(\"", "\"error.", "\"grade."] {
                let keep = if marker.starts_with('.') {
                    ""
                } else {
                    &marker[1..]
                };
                for part in text.split(marker).skip(1) {
                    let Some((rest, _)) = part.split_once('"') else {
                        continue;
                    };
                    let key = format!("{keep}{rest}");
                    if key.is_empty()
                        || key.ends_with('.')
                        || !key.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                        })
                        || key.ends_with(".html")
                        || key == "no.such.key"
                    {
                        continue;
                    }
                    used += 1;
                    assert!(zh.contains(&key), "{}: key {key} missing", f.display());
                }
            }
        }
        assert!(used > 100, "only {used} keys found in use");
    }

    #[test]
    fn missing_keys_show_the_key_and_placeholders_fill_in() {
        let en = Catalog::get(Locale::En);
        assert_eq!(en.t("no.such.key"), "no.such.key");
        assert_eq!(en.lang(), "en");
        assert!(en.tf("login.throttled", &[("secs", "42")]).contains("42"));
        assert_ne!(Catalog::get(Locale::ZhCn).t("nav.overview"), "nav.overview");
    }
}
