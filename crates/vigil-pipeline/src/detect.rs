//! Live detection: Sigma rules from a directory, evaluated on every parsed event, matches
//! turned into [`NewAlert`]s linked to the stored events.
//!
//! Rules are compiled with the `ecs` field mapping because pipeline events carry ECS names
//! (`process.executable`, `source.ip`, ...). A rule that does not compile is logged with its
//! problem code and skipped; the rest load (the engine's own contract).
//!
//! Alerts are grouped per processed batch by (rule, organization, asset): one alert carries
//! the ids of all events of the batch that matched (at most 10,000, the model's limit), so a
//! burst of a thousand failed logins is one alert, not a thousand.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::time::Duration;
use vigil_model::{AlertSource, AssetId, EventId, NewAlert, NewEvent, OrgId, Severity};

use vigil_sigma::{
    CompileOptions, CorrelationEngine, CorrelationLimits, CorrelationMatch, Level, Match, RuleSet,
    Scratch,
};

/// Errors loading rules.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("reading rules under {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the built-in ecs field mapping did not load")]
    Mapping,
}

/// Most rule files read from a directory tree (a guard against pointing at `/`).
const MAX_RULE_FILES: usize = 100_000;
/// Event ids per alert (the model's limit).
const MAX_EVENTS_PER_ALERT: usize = 10_000;

/// What one rule match keeps, owned (the rule set's borrowed `Match` cannot cross threads
/// together with the events).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index of the rule in the set's rule list.
    pub rule: usize,
    pub fields: Vec<String>,
}

/// What an alert needs of an event, kept while the event itself moves into the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventMeta {
    pub org_id: OrgId,
    pub asset_id: Option<AssetId>,
    pub timestamp: jiff::Timestamp,
}

impl EventMeta {
    pub fn of(e: &NewEvent) -> EventMeta {
        EventMeta {
            org_id: e.org_id,
            asset_id: e.asset_id,
            timestamp: e.timestamp,
        }
    }
}

/// Compiled rules and their metadata.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    infos: Vec<vigil_sigma::RuleInfo>,
    /// (path, line, title) of each rule to its index in `infos`: the rule set hands out
    /// borrowed metadata, this finds the owned copy.
    index: HashMap<(String, u32, String), usize>,
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RulesError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RulesError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if out.len() >= MAX_RULE_FILES {
            break;
        }
        if p.is_dir() {
            collect(&p, out)?;
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

fn key(info: &vigil_sigma::RuleInfo) -> (String, u32, String) {
    (info.path.clone(), info.line, info.title.clone())
}

impl Detector {
    /// Reads and compiles every `.yml`/`.yaml` file under `dir` (recursively). Returns the
    /// detector and the number of problems reported (each is logged).
    pub fn load(dir: &Path) -> Result<(Detector, usize), RulesError> {
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        let mut sources = Vec::with_capacity(files.len());
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => sources.push((f.display().to_string(), text)),
                Err(e) => {
                    tracing::warn!(file = %f.display(), error = %e, "rule file not readable, skipped")
                }
            }
        }
        Self::compile(&sources)
    }

    /// Compiles rule texts `(path, yaml)`.
    pub fn compile(sources: &[(String, String)]) -> Result<(Detector, usize), RulesError> {
        let opts = CompileOptions::with_mapping("ecs").ok_or(RulesError::Mapping)?;
        let (rules, problems) = RuleSet::compile_with(sources, &opts);
        for p in &problems {
            tracing::warn!(problem = %p, "sigma rule problem");
        }
        let infos: Vec<_> = rules.rules().cloned().collect();
        let index = infos.iter().enumerate().map(|(i, r)| (key(r), i)).collect();
        Ok((
            Detector {
                rules,
                infos,
                index,
            },
            problems.len(),
        ))
    }

    pub fn rule_count(&self) -> usize {
        self.infos.len()
    }

    /// Correlation rules loaded.
    pub fn correlation_count(&self) -> usize {
        self.rules.correlations().len()
    }

    /// A correlation engine over these rules, with per-organization bounds.
    pub fn correlation_engine(&self) -> CorrelationEngine<'_> {
        CorrelationEngine::with_limits(
            &self.rules,
            CorrelationLimits {
                max_groups: 1_000,
                max_entries_per_group: 1_000,
                max_lateness: Duration::from_secs(60),
            },
        )
    }

    /// Evaluates one event: appends every match (building blocks of correlations included,
    /// which `engine` needs) to `matches`, and returns the hits to report on their own.
    pub fn evaluate<'r>(
        &'r self,
        event: &NewEvent,
        ls: &vigil_sigma::LogSource,
        scratch: &mut Scratch,
        matches: &mut Vec<Match<'r>>,
    ) -> Vec<Hit> {
        matches.clear();
        self.rules.matches_into(event, ls, scratch, matches);
        matches
            .iter()
            // A building block of correlations that do not `generate` it reports only
            // through them.
            .filter(|m| m.standalone)
            .filter_map(|m| {
                let rule = *self.index.get(&key(m.rule))?;
                Some(Hit {
                    rule,
                    fields: m.fields.iter().map(|f| f.to_string()).collect(),
                })
            })
            .collect()
    }

    /// Feeds one event's matches to its organization's correlation engine and returns the
    /// correlations it completed, as alert templates (without event ids).
    pub fn correlate(
        &self,
        engine: &mut CorrelationEngine<'_>,
        event: &NewEvent,
        time: jiff::Timestamp,
        matches: &[Match<'_>],
    ) -> Vec<NewAlert> {
        let mut out = Vec::new();
        engine.observe(event, time, matches, &mut out);
        let meta = EventMeta::of(event);
        out.iter()
            .filter(|c| c.standalone)
            .map(|c| correlation_alert(c, &meta))
            .collect()
    }

    /// Alerts for a stored batch: each stored event's owner and time, its id and its hits.
    pub fn alerts(&self, events: &[(EventMeta, EventId, &[Hit])]) -> Vec<NewAlert> {
        let mut groups: HashMap<(usize, OrgId, Option<AssetId>), NewAlert> = HashMap::new();
        let mut order = Vec::new();
        for (event, id, hits) in events {
            for h in *hits {
                let Some(info) = self.infos.get(h.rule) else {
                    continue;
                };
                let k = (h.rule, event.org_id, event.asset_id);
                let a = groups.entry(k).or_insert_with(|| {
                    order.push(k);
                    new_alert(info, event, &h.fields)
                });
                if a.event_ids.len() < MAX_EVENTS_PER_ALERT {
                    a.event_ids.push(*id);
                }
                if event.timestamp < a.detected_at {
                    a.detected_at = event.timestamp;
                }
            }
        }
        order
            .into_iter()
            .filter_map(|k| groups.remove(&k))
            .collect()
    }
}

fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Informational) => Severity::Info,
        Some(Level::Low) => Severity::Low,
        Some(Level::Medium) | None => Severity::Medium,
        Some(Level::High) => Severity::High,
        Some(Level::Critical) => Severity::Critical,
    }
}

fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A correlation alert: organization, asset and time of the event that completed it; the
/// window, group and measure in the details.
fn correlation_alert(c: &CorrelationMatch<'_>, event: &EventMeta) -> NewAlert {
    let corr = c.correlation;
    let rule_id = c
        .id()
        .map(str::to_string)
        .or_else(|| corr.name.clone())
        .unwrap_or_else(|| c.title().to_string());
    let title = if c.title().trim().is_empty() {
        rule_id.clone()
    } else {
        c.title().to_string()
    };
    let group: serde_json::Map<String, serde_json::Value> = c
        .group
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v.as_str())))
        .collect();
    NewAlert {
        org_id: event.org_id,
        asset_id: event.asset_id,
        source: AlertSource::Sigma,
        rule_id: clip(&rule_id, 200),
        title: clip(&title, 500),
        severity: severity(c.level()),
        category: None,
        detected_at: c.window_start,
        event_ids: Vec::new(),
        details: serde_json::json!({
            "correlation": corr.kind.as_str(),
            "group": group,
            "window_start": c.window_start.to_string(),
            "window_end": c.window_end.to_string(),
            "value": c.value,
            "events": c.events,
            "rules": c.rules.iter().map(|r| r.title()).collect::<Vec<_>>(),
        }),
    }
}

fn new_alert(info: &vigil_sigma::RuleInfo, event: &EventMeta, fields: &[String]) -> NewAlert {
    let rule_id = info
        .id
        .clone()
        .or_else(|| info.name.clone())
        .unwrap_or_else(|| info.title.clone());
    let title = if info.title.trim().is_empty() {
        rule_id.clone()
    } else {
        info.title.clone()
    };
    NewAlert {
        org_id: event.org_id,
        asset_id: event.asset_id,
        source: AlertSource::Sigma,
        rule_id: clip(&rule_id, 200),
        title: clip(&title, 500),
        severity: severity(info.level),
        category: None,
        detected_at: event.timestamp,
        event_ids: Vec::new(),
        details: serde_json::json!({
            "rule_path": info.path,
            "level": info.level.map(Level::as_str),
            "tags": info.tags,
            "matched_fields": fields,
            "logsource": {
                "product": info.logsource.product,
                "category": info.logsource.category,
                "service": info.logsource.service,
            },
        }),
    }
}
