//! Field mappings and log source tables as data (YAML shipped in `data/`, embedded with
//! `include_str!`, replaceable by the user's own files).
//!
//! A [`FieldMapping`] says where a Sigma field lives in the events of one schema (EVTX JSON,
//! Vigil's ECS events, native names). A [`LogSourceTable`] says how an event is classified
//! into Sigma log sources when the caller does not say (Windows: channel and event id).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::rule::LogSource;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
struct Selector {
    product: Option<String>,
    category: Option<String>,
    service: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Section {
    #[serde(default)]
    logsource: Selector,
    #[serde(default)]
    fields: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    default: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
struct MappingFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sections: Vec<Section>,
}

/// Where Sigma fields live in one event schema.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    name: String,
    description: String,
    sections: Vec<Section>,
}

/// A mapping or table file that could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid {what} file: {message}")]
pub struct MappingError {
    pub what: &'static str,
    pub message: String,
}

const EVTX: &str = include_str!("../data/mappings/evtx.yml");
const ECS: &str = include_str!("../data/mappings/ecs.yml");
const NATIVE: &str = include_str!("../data/mappings/native.yml");
const WINDOWS: &str = include_str!("../data/logsources/windows.yml");

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: 32, max_aliases: 100, max_anchors: 100 },
        with_snippet: false,
    }
}

impl FieldMapping {
    /// Reads a mapping file (the format of `data/mappings/*.yml`).
    pub fn from_yaml(text: &str) -> Result<FieldMapping, MappingError> {
        let f: MappingFile =
            serde_saphyr::from_str_with_options(text, options()).map_err(|e| MappingError {
                what: "field mapping",
                message: e.to_string(),
            })?;
        Ok(FieldMapping {
            name: f.name,
            description: f.description,
            sections: f.sections,
        })
    }

    /// A built-in mapping: `evtx` (Windows records as JSON from the evtx crate), `ecs`
    /// (Vigil's normalized events) or `native` (the events use Sigma's own names).
    pub fn builtin(name: &str) -> Option<FieldMapping> {
        let text = match name {
            "evtx" => EVTX,
            "ecs" => ECS,
            "native" => NATIVE,
            _ => return None,
        };
        FieldMapping::from_yaml(text).ok()
    }

    /// The identity mapping: no sections.
    pub fn identity() -> FieldMapping {
        FieldMapping {
            name: "identity".into(),
            description: "field names are used as they are".into(),
            sections: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Candidate paths of `field` for a rule of log source `ls`, in the order to try.
    pub fn resolve(&self, ls: &LogSource, field: &str) -> Vec<String> {
        let covering = self.sections.iter().filter(|s| covers(&s.logsource, ls));
        let mut template: Option<&Vec<String>> = None;
        for s in covering {
            if let Some(paths) = s.fields.get(field) {
                return paths.clone();
            }
            if template.is_none() {
                template = s.default.as_ref();
            }
        }
        match template {
            Some(t) if !t.is_empty() => t.iter().map(|t| t.replace("{}", field)).collect(),
            _ => vec![field.to_owned()],
        }
    }
}

impl Default for FieldMapping {
    fn default() -> Self {
        FieldMapping::builtin("native").unwrap_or_else(FieldMapping::identity)
    }
}

fn covers(sel: &Selector, ls: &LogSource) -> bool {
    fn part(a: &Option<String>, b: &Option<String>) -> bool {
        a.as_ref().is_none_or(|a| b.as_deref() == Some(a.as_str()))
    }
    part(&sel.product, &ls.product)
        && part(&sel.category, &ls.category)
        && part(&sel.service, &ls.service)
}

#[derive(Debug, Clone, Deserialize)]
struct CategoryEntry {
    channel: String,
    #[serde(default)]
    event_ids: Vec<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct TableFile {
    product: String,
    channel_field: String,
    event_id_field: String,
    #[serde(default)]
    services: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    categories: BTreeMap<String, Vec<CategoryEntry>>,
}

/// Classifies events of one product into categories and services by channel and event id.
#[derive(Debug, Clone)]
pub struct LogSourceTable {
    pub(crate) product: String,
    pub(crate) channel_field: String,
    pub(crate) event_id_field: String,
    /// channel → services.
    pub(crate) services: HashMap<String, Vec<String>>,
    /// channel → (event id or `None` for any) → categories.
    pub(crate) categories: HashMap<String, Vec<(Option<i64>, String)>>,
}

impl LogSourceTable {
    /// Reads a table (the format of `data/logsources/windows.yml`).
    pub fn from_yaml(text: &str) -> Result<LogSourceTable, MappingError> {
        let f: TableFile =
            serde_saphyr::from_str_with_options(text, options()).map_err(|e| MappingError {
                what: "log source table",
                message: e.to_string(),
            })?;
        let mut services: HashMap<String, Vec<String>> = HashMap::new();
        for (svc, channels) in f.services {
            for c in channels {
                services.entry(c).or_default().push(svc.clone());
            }
        }
        let mut categories: HashMap<String, Vec<(Option<i64>, String)>> = HashMap::new();
        for (cat, entries) in f.categories {
            for e in entries {
                let slot = categories.entry(e.channel).or_default();
                if e.event_ids.is_empty() {
                    slot.push((None, cat.clone()));
                }
                for id in e.event_ids {
                    slot.push((Some(id), cat.clone()));
                }
            }
        }
        Ok(LogSourceTable {
            product: f.product,
            channel_field: f.channel_field,
            event_id_field: f.event_id_field,
            services,
            categories,
        })
    }

    /// The built-in Windows table.
    pub fn windows() -> Option<LogSourceTable> {
        LogSourceTable::from_yaml(WINDOWS).ok()
    }

    pub fn product(&self) -> &str {
        &self.product
    }

    /// The event field naming the channel.
    pub fn channel_field(&self) -> &str {
        &self.channel_field
    }

    /// The event field holding the event id.
    pub fn event_id_field(&self) -> &str {
        &self.event_id_field
    }

    /// Channel → the services its events belong to.
    pub fn services(&self) -> &HashMap<String, Vec<String>> {
        &self.services
    }

    /// Channel → (event id, or `None` for any id) → category.
    pub fn categories(&self) -> &HashMap<String, Vec<(Option<i64>, String)>> {
        &self.categories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load() {
        for name in ["evtx", "ecs", "native"] {
            assert!(FieldMapping::builtin(name).is_some(), "{name}");
        }
        let t = LogSourceTable::windows().expect("windows table");
        assert_eq!(
            t.services.get("Security"),
            Some(&vec!["security".to_owned()])
        );
        let sysmon = t
            .categories
            .get("Microsoft-Windows-Sysmon/Operational")
            .expect("sysmon");
        assert!(sysmon.contains(&(Some(1), "process_creation".to_owned())));
    }

    #[test]
    fn resolution_order() {
        let evtx = FieldMapping::builtin("evtx").expect("evtx");
        let win = LogSource::new()
            .product("windows")
            .category("process_creation");
        assert_eq!(
            evtx.resolve(&win, "Image"),
            vec![
                "Event.EventData.Image",
                "Event.UserData.*.Image",
                "Event.System.Image"
            ]
        );
        let defender = LogSource::new().product("windows").service("windefend");
        assert_eq!(
            evtx.resolve(&defender, "ThreatName")[0],
            "Event.EventData.Threat Name"
        );
        assert_eq!(
            evtx.resolve(&defender, "EventID"),
            vec!["Event.System.EventID", "Event.System.EventID.#text"]
        );
        assert_eq!(evtx.resolve(&win, "Channel"), vec!["Event.System.Channel"]);
        // Other products are not touched by a Windows-only mapping.
        assert_eq!(
            evtx.resolve(&LogSource::new().product("linux"), "Image"),
            vec!["Image"]
        );
        let ecs = FieldMapping::builtin("ecs").expect("ecs");
        assert_eq!(ecs.resolve(&win, "Image"), vec!["process.executable"]);
        assert_eq!(
            ecs.resolve(&win, "CommandLine"),
            vec!["process.command_line"]
        );
        assert_eq!(ecs.resolve(&win, "TargetFilename"), vec!["file.path"]);
        assert_eq!(ecs.resolve(&win, "DestinationIp"), vec!["destination.ip"]);
        assert_eq!(
            ecs.resolve(&win, "Foo"),
            vec!["winlog.event_data.Foo", "Foo"]
        );
        let web = LogSource::new().category("webserver");
        assert_eq!(ecs.resolve(&web, "cs-uri-query"), vec!["url.query"]);
    }

    #[test]
    fn user_files_are_checked() {
        assert!(FieldMapping::from_yaml("name: x\nsections: [{fields: {A: [b]}}]\n").is_ok());
        let e = FieldMapping::from_yaml("sections: 3\n").expect_err("invalid");
        assert!(e.to_string().starts_with("invalid field mapping file"));
    }
}
