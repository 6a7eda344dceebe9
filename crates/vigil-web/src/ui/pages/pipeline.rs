//! `/pipeline`: the ingestion pipeline's status page — every source with its state and
//! counters, the totals, the spool and the lag — and the dead-letter search; for
//! administrators, the form that defines sources at runtime and the buttons that enable,
//! disable and delete them (through the same functions as `/api/v1/pipeline/sources`).

use crate::api::pipeline::{
    DeadLetterParams, dead_letter_query, may_read_pipeline, raw_view, search,
};
use crate::api::pipeline_sources::{
    create_source, delete_source, may_manage_sources, patch_source,
};
use crate::auth::{Auth, Via};
use crate::state::AppState;
use crate::ui::view::{self, Params};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use vigil_pipeline::source::SourceSpec;
use vigil_pipeline::status::InputState;

/// One source row.
pub struct SourceRow {
    pub name: String,
    pub kind: &'static str,
    /// `config`, `api` or `builtin` (the HTTP bulk API).
    pub origin: &'static str,
    pub enabled: bool,
    pub last_error: String,
    pub endpoint: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub received: u64,
    /// Spooled by the source itself (the HTTP bulk API's row).
    pub spooled: u64,
    pub stored: u64,
    pub rejected: u64,
    pub dead_letters: u64,
    pub dropped: u64,
    pub frame_errors: u64,
    pub connections: u64,
    pub last: String,
}

/// One figure of the totals strip.
pub struct Figure {
    pub label: &'static str,
    pub value: String,
    pub warn: bool,
}

/// One dead letter row.
pub struct LetterRow {
    pub time: String,
    pub reason: String,
    pub input: String,
    pub sender: String,
    pub detail: String,
    /// The kept bytes as text, or as hex when they are not UTF-8 (escaped by the template).
    pub raw: String,
    /// `text` or `hex`.
    pub raw_encoding: &'static str,
    pub raw_len: u64,
}

#[derive(Template)]
#[template(path = "pipeline.html")]
pub struct PipelinePage {
    pub page: Frame,
    pub enabled: bool,
    pub started: String,
    pub rules: usize,
    pub figures: Vec<Figure>,
    pub sources: Vec<SourceRow>,
    pub input: String,
    pub reason: String,
    pub q: String,
    pub since: String,
    pub until: String,
    /// The query string of the next page of dead letters; empty on the last one.
    pub next: String,
    pub inputs: Vec<String>,
    pub reasons: [&'static str; 4],
    pub letters: Vec<LetterRow>,
    pub matched: u64,
    /// May define sources (administrators): the form and the row buttons are shown.
    pub manage: bool,
    pub kinds: [&'static str; 5],
    /// The form's values (a source being edited, or empty).
    pub form: SourceForm,
}

/// The source form, as posted and as shown.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SourceForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub listen: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub topics: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub paths: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub client_ca_file: String,
    #[serde(default)]
    pub max_frame_bytes: String,
    #[serde(default)]
    pub max_connections: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub enabled: Option<String>,
}

fn list_of(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

impl SourceForm {
    /// The form of a stored source (the password never shown).
    fn of(s: &vigil_store::PipelineSource) -> Self {
        let spec = SourceSpec::from_stored(s)
            .unwrap_or_default()
            .without_secrets();
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        SourceForm {
            csrf: String::new(),
            name: s.name.clone(),
            kind: s.kind.clone(),
            listen: spec.listen.clone().unwrap_or_default(),
            url: spec.url.clone().unwrap_or_default(),
            password: String::new(),
            topics: spec.topics.clone().unwrap_or_default().join(", "),
            client_id: spec.client_id.clone().unwrap_or_default(),
            paths: spec
                .paths
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            cert_file: path(&spec.cert_file),
            key_file: path(&spec.key_file),
            client_ca_file: path(&spec.client_ca_file),
            max_frame_bytes: spec
                .max_frame_bytes
                .map(|n| n.to_string())
                .unwrap_or_default(),
            max_connections: spec
                .max_connections
                .map(|n| n.to_string())
                .unwrap_or_default(),
            timezone: spec.timezone.clone().unwrap_or_default(),
            enabled: s.enabled.then(|| "on".to_string()),
        }
    }

    /// The body the API functions take: every setting, empty ones as `null` (cleared on a
    /// change); the password only when one was typed (write-only). Numbers that are not
    /// numbers go as text, so the validation names the field.
    fn body(&self) -> serde_json::Value {
        let text = |v: &str| {
            let v = v.trim();
            if v.is_empty() {
                serde_json::Value::Null
            } else {
                v.into()
            }
        };
        let list = |v: &str| {
            let l = list_of(v);
            if l.is_empty() {
                serde_json::Value::Null
            } else {
                l.into()
            }
        };
        let number = |v: &str| {
            let v = v.trim();
            match v.parse::<u64>() {
                _ if v.is_empty() => serde_json::Value::Null,
                Ok(n) => n.into(),
                Err(_) => v.into(),
            }
        };
        let mut b = serde_json::json!({
            "name": text(&self.name),
            "kind": text(&self.kind),
            "listen": text(&self.listen),
            "url": text(&self.url),
            "topics": list(&self.topics),
            "client_id": text(&self.client_id),
            "paths": list(&self.paths),
            "cert_file": text(&self.cert_file),
            "key_file": text(&self.key_file),
            "client_ca_file": text(&self.client_ca_file),
            "max_frame_bytes": number(&self.max_frame_bytes),
            "max_connections": number(&self.max_connections),
            "timezone": text(&self.timezone),
            "enabled": self.enabled.is_some(),
        });
        if !self.password.is_empty()
            && let Some(o) = b.as_object_mut()
        {
            o.insert("password".into(), self.password.clone().into());
        }
        b
    }
}

fn auth_of(ui: &UiAuth) -> Auth {
    Auth {
        principal: ui.principal.clone(),
        via: Via::Session(ui.session.clone()),
        client: ui.client.clone(),
    }
}

/// `POST /pipeline/sources`: creates the source, or changes the API source of that name.
pub async fn save(
    State(st): State<AppState>,
    ui: UiAuth,
    headers: HeaderMap,
    Form(form): Form<SourceForm>,
) -> UiResult {
    let t = ui.catalog();
    view::check_post_allowed(&ui, &headers, &form.csrf, may_manage_sources(&ui.principal))?;
    let auth = auth_of(&ui);
    let name = form.name.trim().to_string();
    let exists = !name.is_empty() && st.store.get_pipeline_source(&name).await.ui(t)?.is_some();
    let body = form.body();
    let result = if exists {
        let mut changes = body;
        if let Some(o) = changes.as_object_mut() {
            o.remove("name");
        }
        patch_source(&st, &auth, &name, changes).await
    } else {
        // Nothing to clear on a new source.
        let body = match body {
            serde_json::Value::Object(m) => {
                serde_json::Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
            }
            other => other,
        };
        create_source(&st, &auth, body).await
    };
    result.ui(t)?;
    Ok(Redirect::to("/pipeline#pipeline-sources").into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct RowForm {
    #[serde(default)]
    pub csrf: String,
    /// `on` to enable, anything else (or nothing) to disable.
    #[serde(default)]
    pub enabled: Option<String>,
}

/// `POST /pipeline/sources/{name}/state`: enables or disables an API source.
pub async fn set_state(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RowForm>,
) -> UiResult {
    let t = ui.catalog();
    view::check_post_allowed(&ui, &headers, &form.csrf, may_manage_sources(&ui.principal))?;
    let enabled = form.enabled.as_deref() == Some("on");
    patch_source(
        &st,
        &auth_of(&ui),
        &name,
        serde_json::json!({ "enabled": enabled }),
    )
    .await
    .ui(t)?;
    Ok(Redirect::to("/pipeline#pipeline-sources").into_response())
}

/// `POST /pipeline/sources/{name}/delete`: removes an API source.
pub async fn remove(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RowForm>,
) -> UiResult {
    let t = ui.catalog();
    view::check_post_allowed(&ui, &headers, &form.csrf, may_manage_sources(&ui.principal))?;
    delete_source(&st, &auth_of(&ui), &name).await.ui(t)?;
    Ok(Redirect::to("/pipeline#pipeline-sources").into_response())
}

/// The catalog key and badge class of a source state.
fn state_label(s: InputState) -> (&'static str, &'static str) {
    match s {
        InputState::Starting => ("pipeline.state_starting", "state state-wait"),
        InputState::Listening => ("pipeline.state_listening", "state state-ok"),
        InputState::Connected => ("pipeline.state_connected", "state state-ok"),
        InputState::Disconnected => ("pipeline.state_disconnected", "state state-bad"),
        InputState::Stopped => ("pipeline.state_stopped", "state state-bad"),
        InputState::Disabled => ("pipeline.state_disabled", "state state-wait"),
        InputState::Failed => ("pipeline.state_failed", "state state-bad"),
    }
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// Longest raw text shown in a row (the API gives all of it).
const RAW_SHOWN: usize = 400;

pub async fn page(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !may_read_pipeline(&ui.principal) {
        return Err(UiError::forbidden(t));
    }
    let p = Params::parse(raw.as_deref());
    let params = DeadLetterParams {
        input: p.get("input").map(str::to_string),
        reason: p.get("reason").map(str::to_string),
        q: p.get("q").map(str::to_string),
        since: p.get("since").map(str::to_string),
        until: p.get("until").map(str::to_string),
        limit: Some(50),
        cursor: p.get("cursor").map(str::to_string),
    };
    let query = dead_letter_query(&params)
        .map_err(|e| UiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, t, &e.message))?;
    let mut out = PipelinePage {
        page: ui.frame("pipeline", t.t("pipeline.title").to_string()),
        enabled: false,
        started: String::new(),
        rules: 0,
        figures: Vec::new(),
        sources: Vec::new(),
        input: params.input.clone().unwrap_or_default(),
        reason: params.reason.clone().unwrap_or_default(),
        q: params.q.clone().unwrap_or_default(),
        since: params.since.clone().unwrap_or_default(),
        until: params.until.clone().unwrap_or_default(),
        next: String::new(),
        inputs: Vec::new(),
        reasons: ["parse", "oversized", "unattributed", "invalid"],
        letters: Vec::new(),
        matched: 0,
        manage: may_manage_sources(&ui.principal),
        kinds: ["syslog_udp", "syslog_tcp", "syslog_tls", "mqtt", "file"],
        form: SourceForm {
            kind: "syslog_tcp".into(),
            enabled: Some("on".into()),
            ..SourceForm::default()
        },
    };
    let stored = st.store.list_pipeline_sources().await.ui(t)?;
    if let Some(edit) = p.get("edit")
        && let Some(s) = stored.iter().find(|s| s.name == edit)
    {
        out.form = SourceForm::of(s);
    }
    let Some(monitor) = st.pipeline.get() else {
        return Ok(html(&out));
    };
    let s = monitor.status();
    out.enabled = true;
    out.started = view::fmt_time(s.started_at);
    out.rules = s.rules;
    let tot = &s.totals;
    out.figures = vec![
        Figure {
            label: t.t("pipeline.received"),
            value: tot.received.to_string(),
            warn: false,
        },
        Figure {
            label: t.t("pipeline.stored"),
            value: tot.stored.to_string(),
            warn: false,
        },
        Figure {
            label: t.t("pipeline.alerts"),
            value: tot.alerts.to_string(),
            warn: false,
        },
        Figure {
            label: t.t("pipeline.dead_letters"),
            value: tot.dead_letters.to_string(),
            warn: tot.dead_letters > 0,
        },
        Figure {
            label: t.t("pipeline.dropped"),
            value: tot.dropped.to_string(),
            warn: tot.dropped > 0,
        },
        Figure {
            label: t.t("pipeline.store_errors"),
            value: tot.store_errors.to_string(),
            warn: tot.store_errors > 0,
        },
        Figure {
            label: t.t("pipeline.spool"),
            value: format!(
                "{} / {} ({} {})",
                mib(s.spool.used_bytes),
                mib(s.spool.max_bytes),
                mib(s.spool.pending_bytes),
                t.t("pipeline.pending")
            ),
            warn: s.spool.used_bytes > s.spool.max_bytes / 10 * 9,
        },
        Figure {
            label: t.t("pipeline.lag"),
            value: format!("{:.2} s", s.lag_seconds),
            warn: s.lag_seconds > 60.0,
        },
    ];
    for i in &s.inputs {
        let (state_key, state_class) = state_label(i.state);
        let state = t.t(state_key);
        out.inputs.push(i.name.clone());
        out.sources.push(SourceRow {
            name: i.name.clone(),
            kind: i.kind,
            origin: i.origin,
            enabled: stored
                .iter()
                .find(|s| s.name == i.name)
                .is_none_or(|s| s.enabled),
            last_error: i.last_error.clone().unwrap_or_default(),
            endpoint: i.endpoint.clone(),
            state,
            state_class,
            received: i.received,
            spooled: i.spooled,
            stored: i.stored,
            rejected: i.rejected,
            dead_letters: i.dead_letters,
            dropped: i.dropped,
            frame_errors: i.frame_errors,
            connections: i.connections,
            last: i.last_received_at.map(view::fmt_time).unwrap_or_default(),
        });
    }
    let found = search(&st, &ui.principal, query)
        .await
        .map_err(|e| UiError::with_message(e.status, t, &e.message))?;
    out.matched = found.matched();
    if let Some(c) = &found.page.next_cursor {
        let pairs: Vec<(&str, &str)> = [
            ("input", out.input.as_str()),
            ("reason", out.reason.as_str()),
            ("q", out.q.as_str()),
            ("since", out.since.as_str()),
            ("until", out.until.as_str()),
            ("cursor", c.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        out.next = serde_urlencoded::to_string(pairs).unwrap_or_default();
    }
    out.letters = found
        .page
        .items
        .into_iter()
        .map(|d| {
            let (raw_encoding, mut raw) = raw_view(&d.raw);
            if raw.len() > RAW_SHOWN {
                let mut cut = RAW_SHOWN;
                while !raw.is_char_boundary(cut) {
                    cut -= 1;
                }
                raw.truncate(cut);
                raw.push('…');
            }
            LetterRow {
                time: view::fmt_time(d.received_at),
                reason: d.reason.as_str().to_string(),
                input: d.source,
                sender: d.sender.unwrap_or_default(),
                detail: d.detail,
                raw,
                raw_encoding,
                raw_len: d.raw_len,
            }
        })
        .collect();
    Ok(html(&out))
}
