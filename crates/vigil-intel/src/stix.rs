//! STIX 2.0 and 2.1: bundle import into an [`ObjectStore`] plus indicators, and export of
//! indicators and sightings as a 2.1 bundle.
//!
//! Every object with a valid `type--uuid` id is kept (unknown and custom `x-*` types as opaque
//! JSON, all versions by `modified`); objects missing a property their type requires are
//! skipped and reported. Indicators with a STIX pattern are compiled: line-rate patterns
//! become atomic [`Indicator`]s, the rest [`PatternIndicator`]s for the general evaluator.
//! Links to malware, threat actors and ATT&CK techniques come from `indicates` relationships.

use crate::import::{GeneralPatternNote, ImportProblem, ImportSummary, Intel, Source};
use crate::indicator::{Indicator, IndicatorContext, IndicatorValue, SourceRef, Tlp};
use crate::pattern::{self, Compiled, PatternIndicator};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One version of a STIX object, kept whole.
#[derive(Debug, Clone, PartialEq)]
pub struct StixObject {
    pub id: String,
    pub ty: String,
    /// `2.1`, or `2.0` for objects of a 2.0 bundle (which carry no `spec_version`).
    pub spec_version: String,
    pub modified: Option<String>,
    pub json: Value,
}

impl StixObject {
    pub fn name(&self) -> Option<&str> {
        self.json.get("name").and_then(Value::as_str)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }

    pub fn revoked(&self) -> bool {
        self.json.get("revoked").and_then(Value::as_bool) == Some(true)
    }
}

/// All STIX objects imported, every version kept, with indexes for techniques and
/// relationships.
#[derive(Debug, Clone, Default)]
pub struct ObjectStore {
    versions: BTreeMap<String, Vec<StixObject>>,
    techniques: BTreeMap<String, String>,
    relationships_from: BTreeMap<String, Vec<String>>,
}

/// ATT&CK technique ids (`T1055.011`) of an attack-pattern, from its `external_references`.
pub fn technique_ids(obj: &Value) -> Vec<String> {
    obj.get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            r.get("source_name")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("mitre-") && s.ends_with("attack"))
        })
        .filter_map(|r| r.get("external_id").and_then(Value::as_str))
        .filter(|id| id.starts_with('T'))
        .map(str::to_string)
        .collect()
}

impl ObjectStore {
    /// Adds a version; returns false when that exact version (`id`, `modified`) was known.
    pub fn insert(&mut self, obj: StixObject) -> bool {
        if obj.ty == "attack-pattern" {
            for t in technique_ids(&obj.json) {
                self.techniques.insert(t, obj.id.clone());
            }
        }
        let versions = self.versions.entry(obj.id.clone()).or_default();
        if versions.iter().any(|v| v.modified == obj.modified) {
            return false;
        }
        if obj.ty == "relationship"
            && let Some(src) = obj.str("source_ref")
            && versions.is_empty()
        {
            self.relationships_from
                .entry(src.to_string())
                .or_default()
                .push(obj.id.clone());
        }
        let pos = versions.partition_point(|v| v.modified <= obj.modified);
        versions.insert(pos, obj);
        true
    }

    /// The latest version of an object.
    pub fn get(&self, id: &str) -> Option<&StixObject> {
        self.versions.get(id).and_then(|v| v.last())
    }

    /// All versions, oldest first.
    pub fn versions(&self, id: &str) -> &[StixObject] {
        self.versions.get(id).map_or(&[], Vec::as_slice)
    }

    /// Every version of every object, by id, oldest version first.
    pub fn all_versions(&self) -> impl Iterator<Item = &StixObject> {
        self.versions.values().flatten()
    }

    /// Every version of every object, by id, oldest version first, taken out of the store
    /// (no copies of large bundles).
    pub fn into_versions(self) -> impl Iterator<Item = StixObject> {
        self.versions.into_values().flatten()
    }

    /// Number of distinct objects.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Latest versions of all objects of a type.
    pub fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a StixObject> + 'a {
        self.versions
            .values()
            .filter_map(|v| v.last())
            .filter(move |o| o.ty == ty)
    }

    /// Distinct objects by type.
    pub fn count_by_type(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for o in self.versions.values().filter_map(|v| v.last()) {
            *m.entry(o.ty.clone()).or_insert(0) += 1;
        }
        m
    }

    /// ATT&CK technique id → attack-pattern id.
    pub fn techniques(&self) -> &BTreeMap<String, String> {
        &self.techniques
    }

    /// The attack-pattern of an ATT&CK technique id.
    pub fn technique(&self, technique_id: &str) -> Option<&StixObject> {
        self.techniques
            .get(technique_id)
            .and_then(|id| self.get(id))
    }

    /// Relationships whose `source_ref` is `id` (latest versions).
    pub fn relationships_from(&self, id: &str) -> impl Iterator<Item = &StixObject> {
        self.relationships_from
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|r| self.get(r))
    }

    /// The TLP of an object, from its `object_marking_refs`: the fixed TLP ids, or a TLP
    /// marking-definition in the store. The most restrictive wins.
    pub fn tlp_of(&self, obj: &Value) -> Option<Tlp> {
        obj.get("object_marking_refs")
            .and_then(Value::as_array)?
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|r| {
                Tlp::from_marking_ref(r).or_else(|| {
                    let m = self.get(r)?;
                    let d = m.json.get("definition")?;
                    d.get("tlp").and_then(Value::as_str).and_then(Tlp::parse)
                })
            })
            .max()
    }
}

#[derive(Deserialize)]
struct RawBundle {
    #[serde(rename = "type", default)]
    ty: Option<String>,
    #[serde(default)]
    spec_version: Option<String>,
    #[serde(default)]
    objects: Vec<Value>,
}

/// Properties each known type requires (beyond `type` and `id`).
fn required(ty: &str, spec: &str) -> &'static [&'static str] {
    match ty {
        "indicator" if spec == "2.0" => &["pattern", "valid_from"],
        "indicator" => &["pattern", "pattern_type", "valid_from"],
        "relationship" => &["relationship_type", "source_ref", "target_ref"],
        "sighting" => &["sighting_of_ref"],
        "malware" if spec == "2.0" => &["name"],
        "attack-pattern" | "threat-actor" | "intrusion-set" | "vulnerability" | "identity"
        | "campaign" | "tool" | "course-of-action" => &["name"],
        "report" => &["name", "published"],
        "observed-data" => &["first_observed", "last_observed", "number_observed"],
        _ => &[],
    }
}

fn is_sdo_or_sro(ty: &str) -> bool {
    !matches!(
        ty,
        "ipv4-addr"
            | "ipv6-addr"
            | "domain-name"
            | "url"
            | "email-addr"
            | "email-message"
            | "file"
            | "network-traffic"
            | "x509-certificate"
            | "autonomous-system"
            | "software"
            | "process"
            | "artifact"
            | "directory"
            | "mac-addr"
            | "mutex"
            | "user-account"
            | "windows-registry-key"
            | "marking-definition"
            | "language-content"
            | "extension-definition"
    )
}

fn check_id(ty: &str, id: &str) -> Result<(), String> {
    let (prefix, uuid) = id
        .split_once("--")
        .ok_or_else(|| format!("id {id:?} is not type--uuid"))?;
    if prefix != ty {
        return Err(format!("id {id:?} does not start with its type {ty}"));
    }
    uuid::Uuid::parse_str(uuid).map_err(|e| format!("id {id:?}: {e}"))?;
    Ok(())
}

fn parse_time(obj: &Value, key: &str) -> Result<Option<Timestamp>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|e| format!("{key} {s:?}: {e}")),
        Some(_) => Err(format!("{key} is not a string")),
    }
}

fn strings(obj: &Value, key: &str) -> Vec<String> {
    obj.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

impl Intel {
    /// Imports a STIX 2.0 or 2.1 bundle (or a TAXII envelope `{"objects": [...]}`).
    pub fn import_stix(
        &mut self,
        bytes: &[u8],
        source: &Source,
    ) -> (ImportSummary, Vec<ImportProblem>) {
        let mut summary = ImportSummary::default();
        let mut problems = Vec::new();
        let bundle: RawBundle = match serde_json::from_slice(bytes) {
            Ok(b) => b,
            Err(e) => {
                problems.push(ImportProblem::new(
                    "bundle",
                    format!("not a STIX bundle: {e}"),
                ));
                summary.skipped = 1;
                return (summary, problems);
            }
        };
        let bundle = if bundle.ty.as_deref().is_some_and(|t| t != "bundle") {
            // A lone object, as some examples and TAXII object endpoints hand out: import it as
            // a bundle of one.
            match serde_json::from_slice::<Value>(bytes) {
                Ok(obj) => RawBundle {
                    ty: None,
                    spec_version: None,
                    objects: vec![obj],
                },
                Err(e) => {
                    problems.push(ImportProblem::new("bundle", e.to_string()));
                    summary.skipped = 1;
                    return (summary, problems);
                }
            }
        } else {
            bundle
        };
        let default_spec = bundle.spec_version.unwrap_or_else(|| "2.1".into());
        let mut new_indicators = Vec::new();
        for (n, obj) in bundle.objects.into_iter().enumerate() {
            summary.objects += 1;
            let ty = obj.get("type").and_then(Value::as_str).map(str::to_string);
            let id = obj.get("id").and_then(Value::as_str).map(str::to_string);
            let (Some(ty), Some(id)) = (ty, id) else {
                problems.push(ImportProblem::new(
                    format!("objects[{n}]"),
                    "object without type or id",
                ));
                continue;
            };
            if let Err(e) = check_id(&ty, &id) {
                problems.push(ImportProblem::new(id, e));
                continue;
            }
            let spec = obj
                .get("spec_version")
                .and_then(Value::as_str)
                .map_or_else(|| default_spec.clone(), str::to_string);
            let spec = if spec.starts_with("2.0") {
                "2.0"
            } else {
                "2.1"
            }
            .to_string();
            if let Some(missing) = required(&ty, &spec).iter().find(|k| obj.get(**k).is_none()) {
                problems.push(ImportProblem::new(
                    id,
                    format!("{ty} without required property {missing}"),
                ));
                continue;
            }
            if is_sdo_or_sro(&ty) && spec == "2.1" && obj.get("modified").is_none() {
                problems.push(ImportProblem::new(id, format!("{ty} without modified")));
                continue;
            }
            let modified = obj
                .get("modified")
                .and_then(Value::as_str)
                .map(str::to_string);
            summary.count_type(&ty);
            if ty == "indicator" {
                new_indicators.push(id.clone());
            }
            self.objects.insert(StixObject {
                id,
                ty,
                spec_version: spec,
                modified,
                json: obj,
            });
        }
        new_indicators.sort();
        new_indicators.dedup();
        for id in new_indicators {
            if let Some(obj) = self.objects.get(&id).cloned() {
                self.compile_indicator(&obj, source, &mut summary, &mut problems);
            }
        }
        summary.skipped = problems.len();
        (summary, problems)
    }

    fn compile_indicator(
        &mut self,
        obj: &StixObject,
        source: &Source,
        summary: &mut ImportSummary,
        problems: &mut Vec<ImportProblem>,
    ) {
        let id = obj.id.as_str();
        if obj.revoked() {
            problems.push(ImportProblem::new(id, "revoked indicator is not matched"));
            return;
        }
        let pattern_type = obj.str("pattern_type").unwrap_or("stix");
        if pattern_type != "stix" {
            problems.push(ImportProblem::new(
                id,
                format!("pattern_type {pattern_type} belongs to another engine"),
            ));
            return;
        }
        let Some(text) = obj.str("pattern") else {
            problems.push(ImportProblem::new(id, "pattern is not a string"));
            return;
        };
        let parsed = match pattern::parse(text) {
            Ok(p) => p,
            Err(e) => {
                problems.push(ImportProblem::new(id, e.to_string()));
                return;
            }
        };
        let (valid_from, valid_until) = match (
            parse_time(&obj.json, "valid_from"),
            parse_time(&obj.json, "valid_until"),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                problems.push(ImportProblem::new(id, e));
                return;
            }
        };
        let confidence = obj
            .json
            .get("confidence")
            .and_then(Value::as_u64)
            .map_or(source.default_confidence, |c| c.min(100) as u8);
        let context = Arc::new(self.indicator_context(obj, source, confidence));
        match parsed.compile() {
            Compiled::Atomic(values) => {
                for v in values {
                    match v {
                        Ok(value) => {
                            summary.count_indicator(value.kind());
                            self.indicators.push(Indicator {
                                value,
                                confidence,
                                valid_from,
                                valid_until,
                                context: context.clone(),
                            });
                        }
                        Err(reason) => problems.push(ImportProblem::new(id, reason)),
                    }
                }
            }
            Compiled::General(reason) => {
                summary.general_patterns.push(GeneralPatternNote {
                    object_id: id.to_string(),
                    reason,
                });
                self.patterns.push(PatternIndicator {
                    id: id.to_string(),
                    pattern_text: text.to_string(),
                    pattern: parsed,
                    confidence,
                    valid_from,
                    valid_until,
                    context,
                });
            }
        }
    }

    fn indicator_context(
        &self,
        obj: &StixObject,
        source: &Source,
        confidence: u8,
    ) -> IndicatorContext {
        let j = &obj.json;
        let mut ctx = IndicatorContext {
            sources: vec![SourceRef {
                source: source.name.clone(),
                reference: Some(obj.id.clone()),
                confidence,
            }],
            tlp: self.objects.tlp_of(j).or(source.default_tlp),
            tags: strings(j, "labels"),
            description: obj
                .str("description")
                .or_else(|| obj.name())
                .map(str::to_string),
            ..Default::default()
        };
        for t in strings(j, "indicator_types") {
            if !ctx.tags.contains(&t) {
                ctx.tags.push(t);
            }
        }
        if let Some(name) = obj.name()
            && ctx.description.as_deref() != Some(name)
        {
            ctx.tags.push(name.to_string());
        }
        for k in j
            .get("kill_chain_phases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(c), Some(p)) = (
                k.get("kill_chain_name").and_then(Value::as_str),
                k.get("phase_name").and_then(Value::as_str),
            ) {
                ctx.kill_chain_phases.push(format!("{c}:{p}"));
            }
        }
        for rel in self.objects.relationships_from(&obj.id) {
            let Some(target) = rel.str("target_ref").and_then(|t| self.objects.get(t)) else {
                continue;
            };
            let name = target.name().map(str::to_string);
            match (target.ty.as_str(), name) {
                ("malware" | "tool", Some(n)) if !ctx.malware.contains(&n) => ctx.malware.push(n),
                ("threat-actor" | "intrusion-set", Some(n)) if !ctx.threat_actors.contains(&n) => {
                    ctx.threat_actors.push(n)
                }
                ("attack-pattern", _) => {
                    for t in technique_ids(&target.json) {
                        if !ctx.techniques.contains(&t) {
                            ctx.techniques.push(t);
                        }
                    }
                }
                ("campaign", Some(n)) => ctx.tags.push(format!("campaign:{n}")),
                _ => {}
            }
        }
        ctx.suggest_category();
        ctx
    }
}

// ---------------------------------------------------------------------------------------------
// Export

/// A sighting of an indicator, for export.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub indicator: IndicatorValue,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u32,
    /// The organization where it was seen, exported as an identity.
    pub where_sighted: Option<String>,
}

/// A STIX timestamp: RFC 3339 UTC with millisecond precision.
pub fn stix_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A deterministic STIX id: the same name always gives the same id, so a re-export updates
/// objects instead of duplicating them. Name-based (RFC 4122 version 3, MD5) in Vigil's own
/// namespace.
pub fn stable_id(ty: &str, name: &str) -> String {
    use md5::Digest;
    let mut h = md5::Md5::new();
    h.update(b"vigil-intel\x00");
    h.update(ty.as_bytes());
    h.update(b"\x00");
    h.update(name.as_bytes());
    let digest: [u8; 16] = h.finalize().into();
    format!(
        "{ty}--{}",
        uuid::Builder::from_md5_bytes(digest).into_uuid()
    )
}

/// Exports indicators and sightings as a STIX 2.1 bundle produced by `producer` (an identity
/// created in the bundle). `now` stamps `created`/`modified` and open `valid_from`.
pub fn export_bundle(
    indicators: &[Indicator],
    sightings: &[Sighting],
    producer: &str,
    now: Timestamp,
) -> Value {
    let now_s = stix_time(now);
    let producer_id = stable_id("identity", producer);
    let mut objects = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": producer_id,
        "created": now_s,
        "modified": now_s,
        "name": producer,
        "identity_class": "organization",
    })];
    for ind in indicators {
        let text = ind.value.to_string();
        let valid_from = ind.valid_from.unwrap_or(now);
        let mut o = Map::new();
        o.insert("type".into(), json!("indicator"));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(stable_id("indicator", &text)));
        o.insert("created_by_ref".into(), json!(producer_id));
        o.insert("created".into(), json!(now_s));
        o.insert("modified".into(), json!(now_s));
        o.insert("name".into(), json!(ind.value.text()));
        o.insert("indicator_types".into(), json!(["malicious-activity"]));
        o.insert("pattern".into(), json!(pattern::pattern_for(&ind.value)));
        o.insert("pattern_type".into(), json!("stix"));
        o.insert("pattern_version".into(), json!("2.1"));
        o.insert("valid_from".into(), json!(stix_time(valid_from)));
        if let Some(u) = ind.valid_until.filter(|u| *u > valid_from) {
            o.insert("valid_until".into(), json!(stix_time(u)));
        }
        o.insert("confidence".into(), json!(ind.confidence));
        let ctx = &ind.context;
        let labels: Vec<&String> = ctx.tags.iter().filter(|t| !t.is_empty()).collect();
        if !labels.is_empty() {
            o.insert("labels".into(), json!(labels));
        }
        if let Some(d) = &ctx.description {
            o.insert("description".into(), json!(d));
        }
        let phases: Vec<Value> = ctx
            .kill_chain_phases
            .iter()
            .filter_map(|p| p.split_once(':'))
            .map(|(c, p)| json!({"kill_chain_name": c, "phase_name": p}))
            .collect();
        if !phases.is_empty() {
            o.insert("kill_chain_phases".into(), Value::Array(phases));
        }
        let refs: Vec<Value> = ctx
            .techniques
            .iter()
            .map(|t| json!({"source_name": "mitre-attack", "external_id": t}))
            .collect();
        if !refs.is_empty() {
            o.insert("external_references".into(), Value::Array(refs));
        }
        if let Some(t) = ctx.tlp {
            o.insert("object_marking_refs".into(), json!([t.marking_ref()]));
        }
        objects.push(Value::Object(o));
    }
    let mut places: BTreeMap<&str, String> = BTreeMap::new();
    for s in sightings {
        if let Some(w) = &s.where_sighted {
            places
                .entry(w.as_str())
                .or_insert_with(|| stable_id("identity", w));
        }
    }
    for (name, id) in &places {
        objects.push(json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": id,
            "created": now_s,
            "modified": now_s,
            "name": name,
            "identity_class": "organization",
        }));
    }
    for s in sightings {
        let text = s.indicator.to_string();
        let mut o = json!({
            "type": "sighting",
            "spec_version": "2.1",
            "id": stable_id(
                "sighting",
                &format!("{text}|{}|{}", s.first_seen, s.where_sighted.as_deref().unwrap_or(""))
            ),
            "created_by_ref": producer_id,
            "created": now_s,
            "modified": now_s,
            "sighting_of_ref": stable_id("indicator", &text),
            "first_seen": stix_time(s.first_seen),
            "last_seen": stix_time(s.last_seen.max(s.first_seen)),
            "count": s.count.min(999_999_999),
        });
        if let Some(w) = s.where_sighted.as_deref().and_then(|w| places.get(w))
            && let Some(m) = o.as_object_mut()
        {
            m.insert("where_sighted_refs".into(), json!([w]));
        }
        objects.push(o);
    }
    json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::IndicatorKind;

    fn bundle(objects: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": objects}))
            .expect("json")
    }

    const IND: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    const MAL: &str = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b";
    const AP: &str = "attack-pattern--7e33a43e-e34b-40ec-89da-36c9bb2cacd5";

    fn sample() -> Vec<u8> {
        bundle(json!([
            {"type": "indicator", "spec_version": "2.1", "id": IND,
             "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
             "indicator_types": ["malicious-activity"], "name": "Poison Ivy C2",
             "pattern": "[ipv4-addr:value = '10.0.0.1' OR domain-name:value = 'c2.evil.com' OR domain-name:value = 'bad value']",
             "pattern_type": "stix", "valid_from": "2016-01-01T00:00:00Z",
             "valid_until": "2030-01-01T00:00:00Z", "confidence": 85,
             "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]},
            {"type": "malware", "spec_version": "2.1", "id": MAL, "created": "2016-04-06T20:03:48.000Z",
             "modified": "2016-04-06T20:03:48.000Z", "name": "Poison Ivy", "is_family": true,
             "malware_types": ["remote-access-trojan"]},
            {"type": "attack-pattern", "spec_version": "2.1", "id": AP, "created": "2016-04-06T20:03:48.000Z",
             "modified": "2016-04-06T20:03:48.000Z", "name": "Application Layer Protocol",
             "external_references": [{"source_name": "mitre-attack", "external_id": "T1071"}]},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
             "created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z",
             "relationship_type": "indicates", "source_ref": IND, "target_ref": MAL},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--54298a74-ba52-4f0c-87a3-1824e67d7fad",
             "created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z",
             "relationship_type": "indicates", "source_ref": IND, "target_ref": AP},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
             "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
             "pattern": "[email-message:subject MATCHES '^Invoice']", "pattern_type": "stix",
             "valid_from": "2016-01-01T00:00:00Z"},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--b932fcc6-e032-476c-826f-cb970a5a1ade",
             "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
             "pattern": "rule x { condition: true }", "pattern_type": "yara",
             "valid_from": "2016-01-01T00:00:00Z"},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--c932fcc6-e032-476c-826f-cb970a5a1ade",
             "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
             "pattern": "[ipv4-addr:value = ", "pattern_type": "stix",
             "valid_from": "2016-01-01T00:00:00Z"},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--64298a74-ba52-4f0c-87a3-1824e67d7fad",
             "created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z",
             "source_ref": IND, "target_ref": MAL},
            {"type": "malware", "id": "malware--not-a-uuid", "name": "x"},
            {"type": "x-custom-thing", "id": "x-custom-thing--31b940d4-6f7f-459a-80ea-9c1f17b5891b", "spec_version": "2.1",
             "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z", "x_value": 1},
            {"id": "no-type"}
        ]))
    }

    #[test]
    fn imports_indicators_with_links_and_reports_the_rest() {
        let mut intel = Intel::new();
        let (s, problems) = intel.import_stix(&sample(), &Source::new("test"));
        assert_eq!(s.objects, 12);
        assert_eq!(s.indicators, 2);
        assert_eq!(s.by_type.get("indicator"), Some(&4));
        assert_eq!(s.by_type.get("x-custom-thing"), Some(&1));
        assert_eq!(s.general_patterns.len(), 1);
        assert_eq!(s.general_patterns[0].reason, "MATCHES");
        let reasons: Vec<String> = problems
            .iter()
            .map(|p| format!("{} {}", p.object_id, p.reason))
            .collect();
        assert_eq!(problems.len(), 6, "{reasons:#?}");
        assert_eq!(s.skipped, 6);
        assert!(reasons.iter().any(|r| r.contains("bad value")));
        assert!(reasons.iter().any(|r| r.contains("pattern_type yara")));
        assert!(reasons.iter().any(|r| r.contains("pattern error")));
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("without required property relationship_type"))
        );
        assert!(reasons.iter().any(|r| r.starts_with("malware--not-a-uuid")));
        assert!(reasons.iter().any(|r| r.starts_with("objects[11]")));
        let ip = &intel.indicators[0];
        assert_eq!(ip.value.kind(), IndicatorKind::Ipv4);
        assert_eq!(ip.confidence, 85);
        assert_eq!(ip.context.tlp, Some(Tlp::Amber));
        assert_eq!(ip.context.malware, ["Poison Ivy"]);
        assert_eq!(ip.context.techniques, ["T1071"]);
        assert_eq!(ip.context.sources[0].reference.as_deref(), Some(IND));
        assert!(ip.valid_until.is_some());
        assert_eq!(
            intel.objects.technique("T1071").map(|o| o.id.as_str()),
            Some(AP)
        );
        // The general pattern matches through the evaluator.
        let set = intel.build_set();
        let mut fields = BTreeMap::new();
        fields.insert("email.subject".to_string(), json!("Invoice 42"));
        let o = crate::pattern::Observation::from_fields(None, &fields);
        let now = Timestamp::from_second(1_700_000_000).expect("ts");
        assert_eq!(set.match_patterns(&[o], now).len(), 1);
    }

    #[test]
    fn versions_are_kept_and_2_0_is_accepted() {
        let mut intel = Intel::new();
        let v = |m: &str| {
            json!({"type": "malware", "id": MAL, "created": "2016-01-01T00:00:00.000Z",
                   "modified": m, "name": format!("v{m}"), "labels": ["trojan"]})
        };
        let b = serde_json::to_vec(&json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
            "spec_version": "2.0", "objects": [v("2017-01-01T00:00:00.000Z"), v("2016-01-01T00:00:00.000Z"), v("2017-01-01T00:00:00.000Z")]}))
            .expect("json");
        let (s, problems) = intel.import_stix(&b, &Source::new("t"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.objects, 3);
        assert_eq!(intel.objects.len(), 1);
        assert_eq!(intel.objects.versions(MAL).len(), 2);
        assert_eq!(
            intel.objects.get(MAL).and_then(StixObject::name),
            Some("v2017-01-01T00:00:00.000Z")
        );
        assert_eq!(
            intel.objects.get(MAL).map(|o| o.spec_version.as_str()),
            Some("2.0")
        );
        let (_, problems) = intel.import_stix(b"{not json", &Source::new("t"));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn export_is_a_valid_2_1_bundle_that_imports_back() {
        let mut intel = Intel::new();
        intel.import_stix(&sample(), &Source::new("test"));
        let now = Timestamp::from_second(1_700_000_000).expect("ts");
        let sightings = [Sighting {
            indicator: intel.indicators[0].value.clone(),
            first_seen: now,
            last_seen: now,
            count: 3,
            where_sighted: Some("Org A".into()),
        }];
        let b = export_bundle(&intel.indicators, &sightings, "Vigil CERT", now);
        let objs = b["objects"].as_array().expect("objects");
        assert_eq!(objs.len(), 1 + 2 + 1 + 1);
        for o in objs {
            let ty = o["type"].as_str().expect("type");
            let id = o["id"].as_str().expect("id");
            assert!(check_id(ty, id).is_ok(), "{id}");
            assert_eq!(o["spec_version"], "2.1");
            assert_eq!(o["created"], "2023-11-14T22:13:20.000Z");
        }
        let ind = &objs[1];
        assert_eq!(ind["pattern"], "[ipv4-addr:value = '10.0.0.1']");
        assert_eq!(ind["valid_from"], "2016-01-01T00:00:00.000Z");
        assert_eq!(ind["external_references"][0]["external_id"], "T1071");
        assert_eq!(objs[4]["sighting_of_ref"], ind["id"]);
        assert_eq!(objs[4]["where_sighted_refs"][0], objs[3]["id"]);
        // Re-importing the export gives the same values back.
        let mut again = Intel::new();
        let (s, problems) =
            again.import_stix(&serde_json::to_vec(&b).expect("json"), &Source::new("self"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.indicators, 2);
        let back = again
            .indicators
            .iter()
            .find(|i| i.value == intel.indicators[0].value)
            .expect("same value back");
        assert_eq!(back.context.tlp, Some(Tlp::Amber));
        assert_eq!(back.confidence, 85);
        assert_eq!(stable_id("indicator", "x"), stable_id("indicator", "x"));
    }
}
