//! `/incidents` list, `/incidents/{id}` detail, and the comment / status form.

use super::{AlertRow, IncidentRow};
use crate::auth;
use crate::state::AppState;
use crate::ui::i18n::Catalog;
use crate::ui::view::{self, Opt, OrgNames, Params, options};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use vigil_model::{
    Action, AuditOutcome, Grade, Incident, IncidentId, IncidentStatus, TimelineEntry, taxonomy,
};
use vigil_store::{AlertQuery, Delivery, DeliveryQuery, IncidentQuery, IncidentUpdate, OrgQuery};

#[derive(Template)]
#[template(path = "incidents.html")]
pub struct IncidentsPage {
    pub page: Frame,
    pub statuses: Vec<Opt>,
    pub open: Vec<Opt>,
    /// Overdue or not (computed from the deadlines, see `crate::overdue`).
    pub overdue: Vec<Opt>,
    pub grades: Vec<Opt>,
    pub categories: Vec<Opt>,
    pub orgs: Vec<Opt>,
    pub incidents: Vec<IncidentRow>,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub error: Option<String>,
}

pub async fn list(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadIncidents) {
        return Err(UiError::forbidden(t));
    }
    let lang = t.lang();
    let scope = ui.principal.scope();
    let p = Params::parse(raw.as_deref());
    let all_orgs = st
        .store
        .list_orgs(scope, &OrgQuery::default())
        .await
        .ui(t)?;
    let names = OrgNames::new(&all_orgs);
    let q = IncidentQuery {
        org_id: p.get("org_id").and_then(|o| o.parse().ok()),
        status: p.get("status").and_then(IncidentStatus::parse),
        open: p.get("open").and_then(|o| o.parse().ok()),
        grade: p.get("grade").and_then(Grade::parse),
        category: p
            .get("category")
            .filter(|c| taxonomy::incident_category(c).is_some())
            .map(str::to_string),
        limit: view::PAGE_SIZE,
        cursor: p.get("cursor").map(str::to_string),
        ..IncidentQuery::default()
    };
    let (rows, next, error) = overdue_rows(&st, scope, &q, &p, &all_orgs, t, &names).await?;
    Ok(html(&IncidentsPage {
        page: ui.frame("incidents", t.t("nav.incidents").to_string()),
        statuses: options(
            t,
            IncidentStatus::ALL
                .iter()
                .map(|s| (s.as_str(), s.name(lang))),
            p.get("status"),
        ),
        open: options(
            t,
            [
                ("true", t.t("incidents.open_only")),
                ("false", t.t("incidents.closed_only")),
            ],
            p.get("open"),
        ),
        overdue: options(
            t,
            [
                ("true", t.t("overdue.only")),
                ("false", t.t("overdue.not_overdue")),
            ],
            p.get("overdue"),
        ),
        grades: options(
            t,
            Grade::ALL.iter().map(|g| (g.as_str(), g.name(lang))),
            p.get("grade"),
        ),
        categories: options(
            t,
            taxonomy::incident_categories()
                .iter()
                .map(|c| (c.term.code.clone(), c.term.name(lang).to_string())),
            p.get("category"),
        ),
        orgs: options(
            t,
            all_orgs
                .iter()
                .map(|o| (o.id.to_string(), o.spec.name.clone())),
            p.get("org_id"),
        ),
        incidents: rows,
        next_url: next.map(|c| p.with_cursor("/incidents", Some(&c))),
        first_url: p.get("cursor").map(|_| p.with_cursor("/incidents", None)),
        error,
    }))
}

/// The rows of the incident list with their overdue badges: filtered by `overdue=true|false`
/// through [`crate::overdue::page`] (bounded scan, cursor after the last row), or the plain
/// list with the badge computed for the rows shown.
async fn overdue_rows(
    st: &AppState,
    scope: vigil_model::Scope,
    q: &IncidentQuery,
    p: &Params,
    all_orgs: &[vigil_model::Organization],
    t: &'static Catalog,
    names: &OrgNames,
) -> UiResult<(Vec<IncidentRow>, Option<String>, Option<String>)> {
    let now = vigil_model::Timestamp::now();
    let bad_cursor = || Ok((Vec::new(), None, Some(t.t("error.bad_cursor").to_string())));
    if let Some(want) = p.get("overdue").and_then(|o| o.parse::<bool>().ok()) {
        return match crate::overdue::page(st.store.as_ref(), scope, q, want, now).await {
            Ok(page) => Ok((
                page.items
                    .iter()
                    .map(|x| IncidentRow {
                        overdue: !x.overdue.is_empty(),
                        ..IncidentRow::new(&x.incident, t, names)
                    })
                    .collect(),
                page.next_cursor,
                None,
            )),
            Err(e) if e.code == "bad_cursor" => bad_cursor(),
            Err(e) => Err(UiError::from_api(e, t.locale)),
        };
    }
    match st.store.list_incidents(scope, q).await {
        Ok(page) => Ok((
            page.items
                .iter()
                .map(|i| IncidentRow {
                    overdue: all_orgs
                        .iter()
                        .find(|o| o.id == i.spec.org_id)
                        .is_some_and(|o| !crate::overdue::overdue_of(i, o, now).is_empty()),
                    ..IncidentRow::new(i, t, names)
                })
                .collect(),
            page.next_cursor,
            None,
        )),
        Err(vigil_store::StoreError::BadCursor(_)) => bad_cursor(),
        Err(e) => Err(UiError::from_store(e, t)),
    }
}

/// Statuses an organization's own people may set (as in the API's PATCH): they acknowledge,
/// work on, and report the remediation of their incidents; notifying, verifying and closing
/// are the platform's.
const RESPONDER_STATUSES: [IncidentStatus; 3] = [
    IncidentStatus::Acknowledged,
    IncidentStatus::Remediating,
    IncidentStatus::Remediated,
];

pub struct TimelineRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub note: String,
    pub class: &'static str,
}

pub(super) fn timeline_row(e: &TimelineEntry, t: &'static Catalog) -> TimelineRow {
    let lang = t.lang();
    let (action, class) = match e.action.split_once(':') {
        Some(("status", s)) => (
            t.tf(
                "timeline.status",
                &[(
                    "status",
                    IncidentStatus::parse(s).map(|x| x.name(lang)).unwrap_or(s),
                )],
            ),
            "tl tl-status",
        ),
        Some(("grade", "raised")) => (
            t.t("timeline.grade_raised").to_string(),
            "tl tl-grade-raised",
        ),
        Some(("grade", g)) => (
            t.tf(
                "timeline.grade",
                &[("grade", Grade::parse(g).map(|x| x.name(lang)).unwrap_or(g))],
            ),
            "tl tl-grade",
        ),
        _ => match e.action.as_str() {
            "created" => (t.t("timeline.created").to_string(), "tl tl-created"),
            "comment" => (t.t("timeline.comment").to_string(), "tl tl-comment"),
            "edit" => (t.t("timeline.edit").to_string(), "tl tl-edit"),
            "evidence" => (t.t("timeline.evidence").to_string(), "tl tl-evidence"),
            "impact" => (t.t("timeline.impact").to_string(), "tl tl-impact"),
            other => (other.to_string(), "tl"),
        },
    };
    // Status and grade notes are `old -> new` codes; show them with names instead.
    let note = if class == "tl tl-status" || class == "tl tl-grade" {
        e.note
            .split(" -> ")
            .map(|c| {
                IncidentStatus::parse(c)
                    .map(|x| x.name(lang))
                    .or_else(|| Grade::parse(c).map(|x| x.name(lang)))
                    .unwrap_or(c)
            })
            .collect::<Vec<_>>()
            .join(" → ")
    } else {
        e.note.clone()
    };
    TimelineRow {
        at: view::fmt_time(e.at),
        actor: e.actor.clone(),
        action,
        note,
        class,
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
pub struct IncidentPage {
    pub page: Frame,
    pub row: IncidentRow,
    pub grade_level: &'static str,
    pub grade_colour_name: &'static str,
    pub must_report: bool,
    /// The organization has been notified: a signed notice can be downloaded.
    pub notified: bool,
    /// Closed or archived: the closing summary can be made.
    pub closed_done: bool,
    pub deadlines: Vec<DeadlineRow>,
    pub category_code: String,
    pub category: String,
    pub subcategory_code: String,
    pub subcategory: String,
    pub description: String,
    pub updated: String,
    pub closed: String,
    pub alerts: Vec<AlertRow>,
    pub timeline: Vec<TimelineRow>,
    /// Statuses the user may set; empty when the user may not change the status.
    pub status_options: Vec<Opt>,
    pub can_comment: bool,
    pub notice: Option<String>,
    /// E-mails and webhook messages about this incident (the notification outbox).
    pub deliveries: Vec<DeliveryRow>,
    /// Evidence files, oldest first.
    pub evidence: Vec<EvidenceRow>,
    /// The user may attach evidence files (responds to incidents).
    pub can_upload: bool,
    /// The recorded impact and its form (`incident_impact.html`).
    pub impact: super::impact::ImpactSection,
    /// Filed regulatory reports and the filing buttons.
    pub filed: super::filed_reports::FiledSection,
}

/// One evidence file as the incident page lists it.
pub struct EvidenceRow {
    pub id: String,
    pub file_name: String,
    /// The API download, which checks the SM3 digest before serving.
    pub href: String,
    pub size: u64,
    pub sm3: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
    pub note: String,
}

impl EvidenceRow {
    fn new(e: &vigil_store::Evidence) -> Self {
        Self {
            id: e.id.to_string(),
            file_name: e.file_name.clone(),
            href: format!("/api/v1/incidents/{}/evidence/{}", e.incident_id, e.id),
            size: e.size,
            sm3: e.sm3.clone(),
            uploaded_by: e.uploaded_by.clone(),
            uploaded_at: view::fmt_time(e.uploaded_at),
            note: e.note.clone().unwrap_or_default(),
        }
    }
}

/// One notification delivery as the incident page lists it.
pub struct DeliveryRow {
    pub channel: String,
    pub recipient: String,
    pub status: String,
    /// `delivery-sent`, `delivery-failed`...: the CSS class of the status.
    pub class: String,
    /// `attempts / max_attempts`.
    pub attempts: String,
    pub last_error: String,
    pub next_attempt: String,
    pub sent: String,
}

impl DeliveryRow {
    fn new(d: &Delivery, t: &'static Catalog) -> Self {
        let status = d.status.as_str();
        Self {
            channel: d.spec.channel.clone(),
            recipient: d.spec.recipient.clone(),
            status: t.t(&format!("delivery.{status}")).to_string(),
            class: format!("delivery-{status}"),
            attempts: format!("{} / {}", d.attempts, d.spec.max_attempts),
            last_error: d.last_error.clone().unwrap_or_default(),
            next_attempt: view::fmt_opt_time(d.next_attempt_at),
            sent: view::fmt_opt_time(d.sent_at),
        }
    }
}

/// Most deliveries listed on the incident page.
const MAX_DELIVERIES: usize = 200;

/// One deadline as the incident page lists it.
pub struct DeadlineRow {
    pub kind: String,
    pub due: String,
    pub status: String,
    /// `deadline-overdue`, `deadline-met`...: the CSS class of the status.
    pub class: String,
}

fn grade_colour_key(g: Grade) -> &'static str {
    match g.colour() {
        "red" => "grade.red",
        "orange" => "grade.orange",
        "yellow" => "grade.yellow",
        _ => "grade.blue",
    }
}

async fn render_detail(
    st: &AppState,
    ui: &UiAuth,
    inc: Incident,
    notice: Option<String>,
) -> UiResult {
    let t = ui.catalog();
    let lang = t.lang();
    let scope = ui.principal.scope();
    let org = st.store.get_org(scope, inc.spec.org_id).await.ui(t)?;
    let names = OrgNames::new(org.as_slice());
    // Alerts escalated into this incident, and those named when it was opened.
    let mut alerts = st
        .store
        .list_alerts(
            scope,
            &AlertQuery {
                incident_id: Some(inc.id),
                limit: 200,
                ..AlertQuery::default()
            },
        )
        .await
        .ui(t)?
        .items;
    for id in &inc.spec.alert_ids {
        if !alerts.iter().any(|a| a.id == *id)
            && let Some(a) = st.store.get_alert(scope, *id).await.ui(t)?
        {
            alerts.push(a);
        }
    }
    // Only the workflow's next steps for this role are offered.
    let settable = crate::workflow::next_statuses(&ui.principal, &inc);
    let status_options = if settable.is_empty() {
        Vec::new()
    } else {
        let mut v = vec![Opt::new("", t.t("incident.status_unchanged"), Some(""))];
        v.extend(
            settable
                .iter()
                .map(|s| Opt::new(s.as_str(), s.name(lang), None)),
        );
        v
    };
    let deadlines = match &org {
        Some(o) => crate::workflow::deadlines(&inc, o, vigil_model::Timestamp::now())
            .map_err(|e| UiError::with_message(StatusCode::INTERNAL_SERVER_ERROR, t, &e.message))?
            .into_iter()
            .map(|d| DeadlineRow {
                kind: t.t(&format!("deadline.{}", d.kind)).to_string(),
                due: d.due_local,
                status: t.t(&format!("deadline.{}", d.status)).to_string(),
                class: format!("deadline-{}", d.status.replace('_', "-")),
            })
            .collect(),
        None => Vec::new(),
    };
    let deliveries = st
        .store
        .list_deliveries(
            scope,
            &DeliveryQuery {
                reference_kind: Some("incident".into()),
                reference_id: Some(inc.id.to_string()),
                limit: MAX_DELIVERIES,
                ..DeliveryQuery::default()
            },
        )
        .await
        .ui(t)?
        .items
        .iter()
        .map(|d| DeliveryRow::new(d, t))
        .collect();
    let evidence = st
        .store
        .list_evidence(scope, inc.id)
        .await
        .ui(t)?
        .unwrap_or_default()
        .iter()
        .map(EvidenceRow::new)
        .collect();
    let filed = super::filed_reports::section(st, ui, scope, inc.id).await?;
    let impact = super::impact::section(st, ui, &inc).await?;
    let subcategory_code = inc.spec.subcategory.clone().unwrap_or_default();
    let g = inc.spec.grade;
    Ok(html(&IncidentPage {
        page: ui.frame("incidents", inc.spec.title.clone()),
        row: IncidentRow::new(&inc, t, &names),
        grade_level: g.level(),
        grade_colour_name: t.t(grade_colour_key(g)),
        must_report: g.must_report(),
        notified: crate::notice::is_notified(inc.status),
        closed_done: !inc.status.is_open(),
        deadlines,
        category_code: inc.spec.category.clone(),
        category: view::category_name(&inc.spec.category, lang),
        subcategory: if subcategory_code.is_empty() {
            String::new()
        } else {
            view::category_name(&subcategory_code, lang)
        },
        subcategory_code,
        description: inc.spec.description.clone(),
        updated: view::fmt_time(inc.updated_at),
        closed: view::fmt_opt_time(inc.closed_at),
        alerts: alerts.iter().map(|a| AlertRow::new(a, t, &names)).collect(),
        timeline: inc.timeline.iter().map(|e| timeline_row(e, t)).collect(),
        status_options,
        can_comment: ui.principal.allows(Action::RespondIncidents),
        notice,
        deliveries,
        evidence,
        can_upload: ui.principal.allows(Action::RespondIncidents),
        impact,
        filed,
    }))
}

async fn load(st: &AppState, ui: &UiAuth, id: &str) -> UiResult<Incident> {
    let t = ui.catalog();
    let id: IncidentId = id.parse().map_err(|_| UiError::not_found(t))?;
    st.store
        .get_incident(ui.principal.scope(), id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))
}

pub async fn detail(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadIncidents) {
        return Err(UiError::forbidden(t));
    }
    let inc = load(&st, &ui, &id).await?;
    let params = Params::parse(raw.as_deref());
    let notice = if let Some(n) = super::impact::notice(&params, t) {
        Some(n)
    } else if params.flag("evidence") {
        Some(t.t("incident.evidence_saved").to_string())
    } else if let Some(n) = params.get("filed").and_then(|n| n.parse::<u32>().ok()) {
        Some(t.tf("filed.saved", &[("n", &n.to_string())]))
    } else {
        params
            .flag("saved")
            .then(|| t.t("incident.saved").to_string())
    };
    render_detail(&st, &ui, inc, notice).await
}

#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    comment: String,
}

/// Applies the form: a status change and/or a comment, each allowed per role as in the API.
pub async fn update(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<UpdateForm>,
) -> UiResult {
    ui.check_post(&headers, &f.csrf)?;
    let t = ui.catalog();
    let status = match f.status.trim() {
        "" => None,
        s => Some(
            IncidentStatus::parse(s)
                .ok_or_else(|| UiError::invalid(t, format!("status: '{s}'")))?,
        ),
    };
    let comment = Some(f.comment.trim().to_string()).filter(|c| !c.is_empty());
    if status.is_none() && comment.is_none() {
        return Err(UiError::with_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            t,
            t.t("incident.nothing_to_do"),
        ));
    }
    let needed = match status {
        Some(s) if !RESPONDER_STATUSES.contains(&s) => Action::ManageIncidents,
        _ => Action::RespondIncidents,
    };
    if !ui.principal.allows(needed) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(UiError::forbidden(t));
    }
    if comment.as_ref().is_some_and(|c| c.chars().count() > 10_000) {
        return Err(UiError::invalid(
            t,
            t.t("incident.comment_too_long").to_string(),
        ));
    }
    let id: IncidentId = id.parse().map_err(|_| UiError::not_found(t))?;
    let actor = ui.principal.actor();
    let scope = ui.principal.scope();
    let mut step = None;
    let mut expect_status = None;
    if let Some(requested) = status {
        let current = st
            .store
            .get_incident(scope, id)
            .await
            .ui(t)?
            .ok_or_else(|| UiError::not_found(t))?;
        step = crate::workflow::step_to(&ui.principal, &current, requested)
            .map_err(|e| UiError::with_message(StatusCode::CONFLICT, t, &e.message))?;
        expect_status = Some(current.status);
    }
    let change = IncidentUpdate {
        expect_status,
        status,
        comment,
        ..IncidentUpdate::default()
    };
    let inc = st
        .store
        .update_incident(scope, id, change, &actor)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    auth::audit(
        &st,
        &actor,
        &crate::workflow::audit_action(step.as_ref()),
        format!("incident/{id}"),
        AuditOutcome::Success,
        Some(inc.spec.org_id),
        inc.status.as_str().to_string(),
    )
    .await;
    if step
        .as_ref()
        .is_some_and(|s| s.to.status() == IncidentStatus::Notified)
    {
        crate::notify::incident_notified(&st, &inc).await;
    }
    Ok(Redirect::to(&format!("/incidents/{id}?saved=1")).into_response())
}

/// A `multipart/form-data` form with evidence files, as read by [`read_evidence_form`]: the
/// CSRF token and the requested text fields in the order asked for (empty when absent).
pub(super) struct EvidenceForm {
    pub csrf: String,
    pub texts: Vec<String>,
}

/// Reads an evidence form: `csrf`, the text fields named in `text_fields`, and each `file`
/// part, read chunk by chunk up to the evidence limit and handed to `on_file` as (file name,
/// content type, bytes). Unknown fields are read past and ignored. Nothing is checked or
/// stored here; the caller checks the CSRF token before storing anything.
pub(super) async fn read_evidence_form(
    st: &AppState,
    t: &'static Catalog,
    multipart: Result<Multipart, MultipartRejection>,
    text_fields: &[&str],
    mut on_file: impl FnMut(String, String, Vec<u8>) -> Result<(), UiError>,
) -> Result<EvidenceForm, UiError> {
    let mut multipart =
        multipart.map_err(|e| UiError::with_message(e.status(), t, &e.body_text()))?;
    let limit = crate::api::evidence::upload_limit(st);
    let too_large = || {
        let e = crate::api::evidence::too_large(limit);
        UiError::with_message(e.status, t, &e.message)
    };
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            UiError::with_message(e.status(), t, &e.body_text())
        }
    };
    let mut form = EvidenceForm {
        csrf: String::new(),
        texts: vec![String::new(); text_fields.len()],
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "csrf" {
            form.csrf = field.text().await.map_err(bad_form)?;
        } else if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let ct = field
                .content_type()
                .unwrap_or(vigil_store::evidence::OCTET_STREAM)
                .to_string();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                if bytes.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            on_file(file_name, ct, bytes)?;
        } else if let Some(i) = text_fields.iter().position(|f| *f == name) {
            form.texts[i] = field.text().await.map_err(bad_form)?;
        }
    }
    Ok(form)
}

/// `POST /incidents/{id}/evidence`: the upload form (`multipart/form-data` with `csrf`, an
/// optional `note` and the `file`). The file is read chunk by chunk up to the evidence limit
/// (the whole body is bounded by the server's body limit as well); the CSRF token is checked
/// before anything is stored, and the upload goes through the API's path (digest, audit,
/// timeline).
pub async fn upload_evidence(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> UiResult {
    let t = ui.catalog();
    let mut file: Option<(String, String, Vec<u8>)> = None;
    let form = read_evidence_form(&st, t, multipart, &["note"], |name, ct, bytes| {
        file = Some((name, ct, bytes));
        Ok(())
    })
    .await?;
    let [note] = <[String; 1]>::try_from(form.texts).unwrap_or_default();
    let csrf = form.csrf;
    view::check_post_allowed(
        &ui,
        &headers,
        &csrf,
        ui.principal.allows(Action::RespondIncidents),
    )?;
    let id: IncidentId = id.parse().map_err(|_| UiError::not_found(t))?;
    let Some((file_name, content_type, bytes)) = file.filter(|(_, _, b)| !b.is_empty()) else {
        return Err(UiError::with_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            t,
            t.t("incident.evidence_missing"),
        ));
    };
    let spec = vigil_store::NewEvidence {
        incident_id: id,
        file_name,
        content_type,
        note: Some(note),
        bytes,
    };
    crate::api::evidence::store_upload(&st, &ui.principal, id, spec)
        .await
        .map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                UiError::not_found(t)
            } else {
                UiError::with_message(e.status, t, &e.message)
            }
        })?;
    Ok(Redirect::to(&format!("/incidents/{id}?evidence=1#evidence")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{Locale, OrgId, Principal, PrincipalKind, Role};

    fn principal(role: Role) -> Principal {
        Principal {
            kind: PrincipalKind::System,
            name: "t".into(),
            role,
            org_id: (role == Role::OrgUser).then(OrgId::new),
            locale: Locale::En,
        }
    }

    #[test]
    fn offered_statuses_are_the_next_steps_for_the_role() {
        use vigil_model::{Grade, Incident, IncidentId, IncidentStatus, NewIncident};
        let mut inc = Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                org_id: OrgId::new(),
                title: "t".into(),
                description: String::new(),
                category: "MP".into(),
                subcategory: None,
                grade: Grade::General,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: vigil_model::Timestamp::UNIX_EPOCH,
            },
            status: IncidentStatus::Open,
            created_at: vigil_model::Timestamp::UNIX_EPOCH,
            updated_at: vigil_model::Timestamp::UNIX_EPOCH,
            closed_at: None,
            timeline: vec![],
        };
        let next = |r: Role, inc: &Incident| crate::workflow::next_statuses(&principal(r), inc);
        assert_eq!(
            next(Role::Analyst, &inc),
            vec![IncidentStatus::Triaged, IncidentStatus::Closed]
        );
        assert!(next(Role::OrgUser, &inc).is_empty());
        inc.status = IncidentStatus::Notified;
        assert_eq!(
            next(Role::OrgUser, &inc),
            vec![IncidentStatus::Acknowledged]
        );
        assert!(next(Role::Analyst, &inc).is_empty());
        assert!(next(Role::Auditor, &inc).is_empty());
    }

    #[test]
    fn timeline_entries_read_as_words() {
        let t = Catalog::get(Locale::En);
        let e = TimelineEntry {
            at: vigil_model::Timestamp::UNIX_EPOCH,
            actor: "user:a".into(),
            action: "status:remediating".into(),
            note: "acknowledged -> remediating".into(),
        };
        let r = timeline_row(&e, t);
        assert!(r.action.contains("Remediating"), "{}", r.action);
        assert_eq!(r.note, "Acknowledged → Remediating");
    }
}
