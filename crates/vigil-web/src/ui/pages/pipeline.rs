//! `/pipeline`: the ingestion pipeline's status page — every source with its state and
//! counters, the totals, the spool and the lag — and the dead-letter search.

use crate::api::pipeline::{DeadLetterParams, dead_letter_query, may_read_pipeline, search};
use crate::state::AppState;
use crate::ui::view::{self, Params};
use crate::ui::{Frame, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use vigil_pipeline::status::InputState;

/// One source row.
pub struct SourceRow {
    pub name: String,
    pub kind: &'static str,
    pub endpoint: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub received: u64,
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
    pub raw: String,
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
    pub inputs: Vec<String>,
    pub reasons: [&'static str; 4],
    pub letters: Vec<LetterRow>,
    pub matched: u64,
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
        since: None,
        until: None,
        limit: Some(50),
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
        inputs: Vec::new(),
        reasons: ["parse", "oversized", "unattributed", "invalid"],
        letters: Vec::new(),
        matched: 0,
    };
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
            endpoint: i.endpoint.clone(),
            state,
            state_class,
            received: i.received,
            stored: i.stored,
            rejected: i.rejected,
            dead_letters: i.dead_letters,
            dropped: i.dropped,
            frame_errors: i.frame_errors,
            connections: i.connections,
            last: i.last_received_at.map(view::fmt_time).unwrap_or_default(),
        });
    }
    let page = search(&st, query)
        .await
        .map_err(|e| UiError::with_message(e.status, t, &e.message))?;
    if let Some(page) = page {
        out.matched = page.matched;
        out.letters = page
            .items
            .into_iter()
            .map(|d| {
                let mut raw = d.raw_text;
                if raw.len() > RAW_SHOWN {
                    let mut cut = RAW_SHOWN;
                    while !raw.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    raw.truncate(cut);
                    raw.push('…');
                }
                LetterRow {
                    time: d
                        .time
                        .parse::<jiff::Timestamp>()
                        .map(view::fmt_time)
                        .unwrap_or(d.time),
                    reason: d.reason,
                    input: d.input,
                    sender: d.sender.unwrap_or_default(),
                    detail: d.detail,
                    raw,
                    raw_len: d.raw_len,
                }
            })
            .collect();
    }
    Ok(html(&out))
}
