//! Classification (事件分类): a GB/T 20986-2023 sub-category derived from the signals of the
//! alerts behind an incident: rule tags, ATT&CK techniques (`attack.t1486`) and indicator
//! types. The mapping is data (`data/classification.csv`, embedded and versioned), checked
//! against vigil-model's taxonomy when loaded. Analysts can always reclassify; this is the
//! suggestion.

use std::collections::HashMap;
use std::sync::OnceLock;
use vigil_model::taxonomy;

/// What kind of signal a mapping row matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalKind {
    /// An ATT&CK technique id (`t1505.003`).
    Attack,
    Tag,
    Indicator,
}

/// Bad mapping data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("classification table line {line}: {message}")]
pub struct MappingError {
    pub line: usize,
    pub message: String,
}

/// The signal → sub-category table.
#[derive(Debug, Clone)]
pub struct ClassificationTable {
    pub version: String,
    rows: HashMap<(SignalKind, String), (String, u8)>,
}

/// A suggested classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// GB/T 20986-2023 category code (`MP`).
    pub category: String,
    /// Sub-category code (`MPRANS`).
    pub subcategory: String,
    /// The signals that pointed to it, as given (`attack.t1486`, `tag:ransomware`).
    pub matched: Vec<String>,
}

impl ClassificationTable {
    /// Parses the CSV format of `data/classification.csv`: a `version,<v>` row, then
    /// `kind,signal,subcategory,priority` rows; `#` starts a comment line.
    pub fn from_csv(text: &str) -> Result<Self, MappingError> {
        let mut version = None;
        let mut rows = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let err = |m: String| MappingError {
                line: line_no,
                message: m,
            };
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = l.split(',').map(str::trim).collect();
            match cols[..] {
                ["version", v] if !v.is_empty() => version = Some(v.to_string()),
                [kind, signal, sub, prio] => {
                    let kind = match kind {
                        "attack" => SignalKind::Attack,
                        "tag" => SignalKind::Tag,
                        "indicator" => SignalKind::Indicator,
                        other => return Err(err(format!("unknown kind '{other}'"))),
                    };
                    if taxonomy::incident_subcategory(sub).is_none() {
                        return Err(err(format!(
                            "'{sub}' is not a GB/T 20986-2023 sub-category code"
                        )));
                    }
                    let prio: u8 = prio
                        .parse()
                        .map_err(|_| err(format!("priority '{prio}' is not 0-255")))?;
                    let key = (kind, signal.to_ascii_lowercase());
                    if rows.insert(key, (sub.to_string(), prio)).is_some() {
                        return Err(err(format!("signal '{signal}' is mapped twice")));
                    }
                }
                _ => {
                    return Err(err(format!(
                        "expected kind,signal,subcategory,priority: '{l}'"
                    )));
                }
            }
        }
        let version = version.ok_or(MappingError {
            line: 0,
            message: "no version row".into(),
        })?;
        Ok(Self { version, rows })
    }

    /// The embedded table.
    pub fn builtin() -> Result<&'static Self, MappingError> {
        static T: OnceLock<Result<ClassificationTable, MappingError>> = OnceLock::new();
        T.get_or_init(|| Self::from_csv(include_str!("../data/classification.csv")))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn lookup(&self, kind: SignalKind, key: &str) -> Option<&(String, u8)> {
        self.rows.get(&(kind, key.to_string()))
    }

    /// The sub-category one signal points to, with its priority. ATT&CK techniques are taken
    /// from `attack.tNNNN[.NNN]` tags; a sub-technique without its own row uses its parent's.
    fn resolve(&self, kind: SignalKind, raw: &str) -> Option<&(String, u8)> {
        let s = raw.trim().to_ascii_lowercase();
        if kind == SignalKind::Indicator {
            return self.lookup(kind, &s);
        }
        let bare = s.strip_prefix("attack.").unwrap_or(&s);
        if is_technique(bare) {
            return self.lookup(SignalKind::Attack, bare).or_else(|| {
                bare.split_once('.')
                    .and_then(|(parent, _)| self.lookup(SignalKind::Attack, parent))
            });
        }
        self.lookup(SignalKind::Tag, bare)
    }

    /// Suggests a sub-category from the tags (ATT&CK technique tags included) and indicator
    /// types of an incident's alerts: the highest-priority match wins, ties go to the first
    /// signal given. `None` when nothing matches.
    pub fn classify<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a str>,
        indicator_types: impl IntoIterator<Item = &'a str>,
    ) -> Option<Classification> {
        let signals = tags.into_iter().map(|t| (SignalKind::Tag, t)).chain(
            indicator_types
                .into_iter()
                .map(|i| (SignalKind::Indicator, i)),
        );
        let mut best: Option<(&str, u8)> = None;
        let mut hits: Vec<(&str, String)> = Vec::new();
        for (kind, raw) in signals {
            let Some((sub, prio)) = self.resolve(kind, raw) else {
                continue;
            };
            let label = match kind {
                SignalKind::Indicator => format!("indicator:{raw}"),
                _ => raw.to_string(),
            };
            hits.push((sub.as_str(), label));
            if best.is_none_or(|(_, p)| *prio > p) {
                best = Some((sub.as_str(), *prio));
            }
        }
        let (sub, _) = best?;
        let (cat, _) = taxonomy::incident_subcategory(sub)?;
        Some(Classification {
            category: cat.term.code.clone(),
            subcategory: sub.to_string(),
            matched: hits
                .into_iter()
                .filter(|(s, _)| *s == sub)
                .map(|(_, l)| l)
                .collect(),
        })
    }
}

/// `t1234` or `t1234.001`.
fn is_technique(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('t') else {
        return false;
    };
    let (main, sub) = rest.split_once('.').unwrap_or((rest, ""));
    main.len() == 4
        && main.bytes().all(|b| b.is_ascii_digit())
        && (sub.is_empty() || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit())))
}

/// [`ClassificationTable::classify`] with the embedded table.
pub fn classify<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    indicator_types: impl IntoIterator<Item = &'a str>,
) -> Option<Classification> {
    ClassificationTable::builtin()
        .ok()?
        .classify(tags, indicator_types)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(tags: &[&str], ind: &[&str]) -> Option<String> {
        classify(tags.iter().copied(), ind.iter().copied()).map(|c| c.subcategory)
    }

    #[test]
    fn embedded_table_is_valid_against_the_model_taxonomy() {
        let t = ClassificationTable::builtin().expect("embedded table parses");
        assert!(t.version.starts_with("gbt20986-2023"));
        for (sub, _) in t.rows.values() {
            assert!(taxonomy::incident_subcategory(sub).is_some(), "{sub}");
        }
    }

    #[test]
    fn attack_techniques_map_to_subcategories() {
        for (tech, want) in [
            ("attack.t1486", "MPRANS"),
            ("attack.t1110", "NACRED"),
            ("attack.t1110.003", "NACRED"),
            ("attack.t1505.003", "NABACKIMPL"),
            ("attack.t1491", "NAWEBMOD"),
            ("attack.t1491.002", "NAWEBMOD"),
            ("attack.t1071.001", "MPZOMB"),
            ("attack.t1566.002", "NAPHISH"),
            ("attack.t1498", "NADOS"),
            ("attack.t1499.002", "NADOS"),
            ("attack.t1190", "NAEXPLOIT"),
            ("attack.t1595.002", "NASCAN"),
            ("attack.t1046", "NASCAN"),
            ("ATTACK.T1486", "MPRANS"),
            ("t1496", "MPMINER"),
        ] {
            assert_eq!(sub(&[tech], &[]).as_deref(), Some(want), "{tech}");
        }
    }

    #[test]
    fn tags_and_indicator_types_map_and_the_outcome_wins_over_the_means() {
        assert_eq!(sub(&["webshell"], &[]).as_deref(), Some("NABACKIMPL"));
        assert_eq!(sub(&[], &["c2"]).as_deref(), Some("MPZOMB"));
        assert_eq!(sub(&[], &["phishing_url"]).as_deref(), Some("NAPHISH"));
        // Brute force, then ransomware: the incident is ransomware.
        let c = classify(
            [
                "attack.credential_access",
                "attack.t1110.001",
                "attack.t1486",
            ],
            ["c2"],
        )
        .expect("classified");
        assert_eq!(
            (c.category.as_str(), c.subcategory.as_str()),
            ("MP", "MPRANS")
        );
        assert_eq!(c.matched, vec!["attack.t1486"]);
        // Two signals for the winner are both named.
        let c = classify(["attack.t1071"], ["botnet", "c2"]).expect("classified");
        assert_eq!(c.subcategory, "MPZOMB");
        assert_eq!(
            c.matched,
            vec!["attack.t1071", "indicator:botnet", "indicator:c2"]
        );
    }

    #[test]
    fn unknown_signals_give_no_suggestion() {
        assert_eq!(
            sub(&["attack.execution", "attack.t9999", "sigma"], &["ip"]),
            None
        );
        assert_eq!(sub(&[], &[]), None);
        // A tactic tag is not a technique.
        assert!(!is_technique("t12345") && !is_technique("t1234.01") && is_technique("t1234.001"));
    }

    #[test]
    fn bad_mapping_rows_are_refused_with_their_line() {
        let e = ClassificationTable::from_csv("version,x\nattack,t1486,MPRANSOM,9\n")
            .expect_err("bad code");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("MPRANSOM"));
        assert!(ClassificationTable::from_csv("attack,t1486,MPRANS,9\n").is_err());
        assert!(ClassificationTable::from_csv("version,x\nfoo,t1486,MPRANS,9\n").is_err());
        assert!(ClassificationTable::from_csv("version,x\nattack,t1486,MPRANS,high\n").is_err());
        assert!(
            ClassificationTable::from_csv("version,x\ntag,a,MPRANS,1\ntag,A,NADOS,1\n").is_err()
        );
    }
}
