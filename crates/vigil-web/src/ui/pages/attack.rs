//! `/intel/attack`: the ATT&CK technique browser over the imported ATT&CK bundles (the
//! object store), and `/intel/attack/{attack_id}`: one technique with its description,
//! platforms, data sources, tactics, sub-techniques, and the groups, software, mitigations,
//! campaigns and indicators related to it.
//!
//! Tactics come from the `x-mitre-tactic` objects (in the order of their `x-mitre-matrix`),
//! techniques are placed under them by their `kill_chain_phases`. Like all intelligence the
//! pages are open to every signed-in user.

use crate::api::intel_objects::{Related, related_of};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::view::Params;
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use vigil_store::{StixObjectQuery, StoredStixObject};

/// Objects of one type read at most (ATT&CK Enterprise has about 700 techniques with their
/// sub-techniques; all three domains together about 1,100).
const MAX_OBJECTS: usize = 20_000;

fn api_err(t: &'static crate::ui::i18n::Catalog, e: ApiError) -> UiError {
    UiError::with_message(e.status, t, &e.message)
}

/// The latest, not revoked, versions of every object of a type.
async fn all_of(st: &AppState, ty: &str) -> Result<Vec<StoredStixObject>, vigil_store::StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    while out.len() < MAX_OBJECTS {
        let page = st
            .store
            .list_stix_objects(&StixObjectQuery {
                types: vec![ty.to_string()],
                exclude_revoked: true,
                limit: vigil_store::MAX_PAGE,
                cursor,
                ..StixObjectQuery::default()
            })
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(out)
}

fn deprecated(o: &Value) -> bool {
    o.get("x_mitre_deprecated").and_then(Value::as_bool) == Some(true)
}

fn strs(o: &Value, key: &str) -> Vec<String> {
    o.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `(kill_chain_name, phase_name)` of a technique.
fn phases(o: &Value) -> Vec<(String, String)> {
    o.get("kill_chain_phases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.get("kill_chain_name")?.as_str()?.to_string(),
                p.get("phase_name")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// The kill chain (`mitre-attack`, `mitre-mobile-attack`, `mitre-ics-attack`) an ATT&CK
/// object belongs to, from the source of its ATT&CK id.
fn domain_of(o: &Value) -> Option<String> {
    o.get("external_references")?
        .as_array()?
        .iter()
        .filter_map(|r| r.get("source_name")?.as_str())
        .find(|s| s.starts_with("mitre-") && s.ends_with("attack"))
        .map(str::to_string)
}

fn url_of(o: &Value) -> Option<String> {
    o.get("external_references")?
        .as_array()?
        .iter()
        .find(|r| {
            r.get("source_name")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("mitre-") && s.ends_with("attack"))
        })?
        .get("url")?
        .as_str()
        .filter(|u| u.starts_with("https://"))
        .map(str::to_string)
}

/// A technique in a tactic's list.
pub struct TechniqueRow {
    pub attack_id: String,
    pub name: String,
    pub subs: Vec<(String, String)>,
}

/// A tactic with its techniques.
pub struct TacticColumn {
    pub attack_id: String,
    pub name: String,
    pub shortname: String,
    pub techniques: Vec<TechniqueRow>,
}

/// One ATT&CK domain (Enterprise, Mobile, ICS).
pub struct Matrix {
    pub name: String,
    pub tactics: Vec<TacticColumn>,
    pub techniques: usize,
}

#[derive(Template)]
#[template(path = "attack.html")]
pub struct AttackPage {
    pub page: Frame,
    pub q: String,
    pub matrices: Vec<Matrix>,
}

/// Does the technique (or one of its sub-techniques) match the filter text?
fn matches(q: &str, id: &str, name: &str) -> bool {
    q.is_empty() || id.to_lowercase().contains(q) || name.to_lowercase().contains(q)
}

pub async fn matrix(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    let p = Params::parse(raw.as_deref());
    let q = p.string("q").trim().to_string();
    let ql = q.to_lowercase();
    let tactics = all_of(&st, "x-mitre-tactic").await.ui(t)?;
    let matrices = all_of(&st, "x-mitre-matrix").await.ui(t)?;
    let techniques = all_of(&st, "attack-pattern").await.ui(t)?;

    // Techniques and sub-techniques by ATT&CK id.
    let mut parents: Vec<(&StoredStixObject, String)> = Vec::new();
    let mut subs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for o in techniques.iter().filter(|o| !deprecated(&o.spec.object)) {
        let Some(id) = o.spec.attack_id().map(str::to_string) else {
            continue;
        };
        let name = o.spec.name().unwrap_or("").to_string();
        match id.split_once('.') {
            Some((parent, _)) => subs
                .entry(parent.to_string())
                .or_default()
                .push((id.clone(), name)),
            None => parents.push((o, id)),
        }
    }
    for v in subs.values_mut() {
        v.sort();
    }
    // Tactic columns by (kill chain, shortname).
    let mut columns: HashMap<(String, String), TacticColumn> = HashMap::new();
    for o in tactics.iter().filter(|o| !deprecated(&o.spec.object)) {
        let Some(short) = o
            .spec
            .object
            .get("x_mitre_shortname")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let domain = domain_of(&o.spec.object).unwrap_or_else(|| "mitre-attack".into());
        columns.insert(
            (domain, short.to_string()),
            TacticColumn {
                attack_id: o.spec.attack_id().unwrap_or("").to_string(),
                name: o.spec.name().unwrap_or(short).to_string(),
                shortname: short.to_string(),
                techniques: Vec::new(),
            },
        );
    }
    for (o, id) in &parents {
        let name = o.spec.name().unwrap_or("").to_string();
        let own_subs = subs.get(id.as_str()).cloned().unwrap_or_default();
        let hit = matches(&ql, id, &name) || own_subs.iter().any(|(i, n)| matches(&ql, i, n));
        if !hit {
            continue;
        }
        for key in phases(&o.spec.object) {
            if let Some(col) = columns.get_mut(&key) {
                col.techniques.push(TechniqueRow {
                    attack_id: id.clone(),
                    name: name.clone(),
                    subs: own_subs.clone(),
                });
            }
        }
    }
    for col in columns.values_mut() {
        col.techniques.sort_by(|a, b| a.name.cmp(&b.name));
    }
    // Domains in the order of their matrices' tactic_refs; tactics without a matrix last.
    let by_stix: HashMap<&str, (String, String)> = tactics
        .iter()
        .filter_map(|o| {
            let short = o.spec.object.get("x_mitre_shortname")?.as_str()?;
            let domain = domain_of(&o.spec.object).unwrap_or_else(|| "mitre-attack".into());
            Some((o.spec.stix_id.as_str(), (domain, short.to_string())))
        })
        .collect();
    let mut out = Vec::new();
    let mut mats: Vec<&StoredStixObject> = matrices
        .iter()
        .filter(|m| !deprecated(&m.spec.object))
        .collect();
    mats.sort_by_key(|m| m.spec.name().unwrap_or("").to_string());
    for m in mats {
        let mut cols = Vec::new();
        for r in strs(&m.spec.object, "tactic_refs") {
            if let Some(key) = by_stix.get(r.as_str())
                && let Some(col) = columns.remove(key)
            {
                cols.push(col);
            }
        }
        if !cols.is_empty() {
            out.push(Matrix {
                name: m.spec.name().unwrap_or("ATT&CK").to_string(),
                techniques: cols.iter().map(|c| c.techniques.len()).sum(),
                tactics: cols,
            });
        }
    }
    if !columns.is_empty() {
        let mut rest: Vec<TacticColumn> = columns.into_values().collect();
        rest.sort_by(|a, b| a.attack_id.cmp(&b.attack_id));
        out.push(Matrix {
            name: t.t("attack.other_tactics").to_string(),
            techniques: rest.iter().map(|c| c.techniques.len()).sum(),
            tactics: rest,
        });
    }
    Ok(html(&AttackPage {
        page: ui.frame("attack", t.t("attack.title").to_string()),
        q,
        matrices: out,
    }))
}

/// An object related to the technique, as a row.
pub struct RelatedRow {
    pub name: String,
    pub attack_id: String,
    pub href: Option<String>,
    pub relationship: String,
}

/// Related objects of one kind.
pub struct RelatedGroup {
    pub title: &'static str,
    pub id: &'static str,
    pub rows: Vec<RelatedRow>,
}

#[derive(Template)]
#[template(path = "attack_technique.html")]
pub struct TechniquePage {
    pub page: Frame,
    pub attack_id: String,
    pub name: String,
    pub stix_id: String,
    pub description: String,
    pub url: Option<String>,
    pub platforms: Vec<String>,
    pub data_sources: Vec<String>,
    pub tactics: Vec<String>,
    pub parent: Option<(String, String)>,
    pub subs: Vec<(String, String)>,
    pub detection: String,
    pub modified: String,
    pub versions: usize,
    pub groups: Vec<RelatedGroup>,
    /// The tag Sigma rules use for the technique (`attack.t1059.001`).
    pub sigma_tag: String,
}

fn row(r: &Related) -> RelatedRow {
    let o = &r.object;
    let href = match (&o.indicator_id, &o.attack_id) {
        (Some(i), _) => Some(format!("/api/v1/intel/indicators/{i}")),
        (None, Some(a)) if o.ty == "attack-pattern" => Some(format!("/intel/attack/{a}")),
        _ => Some(format!("/api/v1/intel/objects/{}", o.id)),
    };
    RelatedRow {
        name: o.name.clone().unwrap_or_else(|| o.id.clone()),
        attack_id: o.attack_id.clone().unwrap_or_default(),
        href,
        relationship: r.relationship_type.clone(),
    }
}

pub async fn technique(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(attack_id): Path<String>,
) -> UiResult {
    let t = ui.catalog();
    let wanted = attack_id.trim().to_uppercase();
    if wanted.len() > 20 {
        return Err(UiError::not_found(t));
    }
    let found = st
        .store
        .list_stix_objects(&StixObjectQuery {
            attack_id: Some(wanted.clone()),
            types: vec!["attack-pattern".into()],
            limit: 10,
            ..StixObjectQuery::default()
        })
        .await
        .ui(t)?;
    let Some(o) = found
        .items
        .iter()
        .find(|o| !o.spec.revoked && !deprecated(&o.spec.object))
        .or(found.items.first())
    else {
        return Err(UiError::not_found(t));
    };
    let obj = &o.spec.object;
    let versions = crate::api::intel_objects::versions_of(&st, &o.spec.stix_id)
        .await
        .map_err(|e| api_err(t, e))?
        .len();
    let related = related_of(&st, &o.spec.stix_id)
        .await
        .map_err(|e| api_err(t, e))?;
    let mut subs: Vec<(String, String)> = Vec::new();
    let mut parent = None;
    let mut buckets: BTreeMap<&'static str, Vec<RelatedRow>> = BTreeMap::new();
    for r in &related {
        let other = &r.object;
        match (r.relationship_type.as_str(), r.direction, other.ty.as_str()) {
            ("subtechnique-of", "incoming", _) => {
                if !other.revoked {
                    subs.push((
                        other.attack_id.clone().unwrap_or_default(),
                        other.name.clone().unwrap_or_default(),
                    ));
                }
            }
            ("subtechnique-of", "outgoing", _) => {
                parent = Some((
                    other.attack_id.clone().unwrap_or_default(),
                    other.name.clone().unwrap_or_default(),
                ));
            }
            (_, _, "intrusion-set") => buckets.entry("groups").or_default().push(row(r)),
            (_, _, "malware" | "tool") => buckets.entry("software").or_default().push(row(r)),
            (_, _, "course-of-action") => buckets.entry("mitigations").or_default().push(row(r)),
            (_, _, "campaign") => buckets.entry("campaigns").or_default().push(row(r)),
            (_, _, "indicator") => buckets.entry("indicators").or_default().push(row(r)),
            (_, _, ty) if ty.starts_with("x-mitre-") => {
                buckets.entry("detection").or_default().push(row(r))
            }
            _ => buckets.entry("other").or_default().push(row(r)),
        }
    }
    subs.sort();
    let order: [(&'static str, &'static str); 7] = [
        ("groups", "attack.groups"),
        ("software", "attack.software"),
        ("campaigns", "attack.campaigns"),
        ("mitigations", "attack.mitigations"),
        ("detection", "attack.detection_objects"),
        ("indicators", "attack.indicators"),
        ("other", "attack.other"),
    ];
    let groups = order
        .iter()
        .filter_map(|(id, key)| {
            let mut rows = buckets.remove(id)?;
            rows.sort_by(|a, b| a.name.cmp(&b.name));
            rows.dedup_by(|a, b| a.name == b.name && a.relationship == b.relationship);
            Some(RelatedGroup {
                title: t.t(key),
                id,
                rows,
            })
        })
        .collect();
    let id = o.spec.attack_id().unwrap_or(&wanted).to_string();
    let name = o.spec.name().unwrap_or("").to_string();
    Ok(html(&TechniquePage {
        page: ui.frame("attack", format!("{id} {name}")),
        sigma_tag: format!("attack.{}", id.to_lowercase()),
        attack_id: id,
        name,
        stix_id: o.spec.stix_id.clone(),
        description: obj
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        url: url_of(obj),
        platforms: strs(obj, "x_mitre_platforms"),
        data_sources: strs(obj, "x_mitre_data_sources"),
        tactics: phases(obj).into_iter().map(|(_, p)| p).collect(),
        parent,
        subs,
        detection: obj
            .get("x_mitre_detection")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        modified: vigil_intel::stix::stix_time(o.spec.modified),
        versions,
        groups,
    }))
}
