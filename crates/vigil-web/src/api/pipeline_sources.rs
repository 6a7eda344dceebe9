//! `/api/v1/pipeline/sources`: the pipeline's sources (listeners), and for administrators
//! their definition at runtime — create, replace, change, enable/disable, delete — kept in the
//! store and applied to the running pipeline at once (a bind error is in the answer and the
//! source's state).
//!
//! Sources of the configuration file (`[[pipeline.listeners]]`, `origin: config`) are shown
//! but read-only here: changing one answers 409; the file is their single definition.
//! Settings are validated by the same function as the file's ([`SourceSpec::resolve`]), so
//! errors name the field. The MQTT password is write-only: never in an answer or a log
//! (`password_set` says whether one is kept); leaving it out of a change keeps it.

use crate::api::audit_change;
use crate::api::pipeline::may_read_pipeline;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_model::{Principal, Role, Timestamp};
use vigil_pipeline::source::SourceSpec;
use vigil_pipeline::status::InputStatus;
use vigil_store::{PipelineSource, SourceOrigin};

/// May the principal define sources? Platform administrators only.
pub fn may_manage_sources(p: &Principal) -> bool {
    p.role == Role::PlatformAdmin
}

fn require_read(auth: &Auth) -> Result<(), ApiError> {
    if may_read_pipeline(&auth.principal) {
        return Ok(());
    }
    metrics::counter!("vigil_access_denied_total").increment(1);
    Err(ApiError::forbidden(format!(
        "role {} may not read the ingestion pipeline",
        auth.principal.role.as_str()
    )))
}

fn require_manage(auth: &Auth) -> Result<(), ApiError> {
    if may_manage_sources(&auth.principal) {
        return Ok(());
    }
    metrics::counter!("vigil_access_denied_total").increment(1);
    Err(ApiError::forbidden(format!(
        "role {} may not change pipeline sources",
        auth.principal.role.as_str()
    )))
}

fn config_conflict(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!(
            "source '{name}' is defined in the configuration file ([[pipeline.listeners]]) and is read-only through the API; change it there"
        ),
    )
}

/// The running pipeline's view of one source.
fn status_of(st: &AppState, name: &str) -> Option<InputStatus> {
    st.pipeline
        .get()?
        .status()
        .inputs
        .into_iter()
        .find(|i| i.name == name)
}

fn is_config_source(st: &AppState, name: &str) -> bool {
    st.pipeline.get().and_then(|m| m.sources().origin(name)) == Some("config")
}

/// One source as answered: definition (secrets left out) and live state and counters.
pub fn view(stored: Option<&PipelineSource>, live: Option<&InputStatus>) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    let o = &mut map;
    if let Some(l) = live {
        if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(l) {
            o.extend(m);
        }
        o.insert("running".into(), true.into());
    } else {
        o.insert("running".into(), false.into());
    }
    match stored {
        Some(s) => {
            let spec = SourceSpec::from_stored(s).unwrap_or_default();
            let mut settings = spec.without_secrets();
            settings.name = None;
            settings.kind = None;
            o.insert("name".into(), s.name.clone().into());
            o.insert("kind".into(), s.kind.clone().into());
            o.insert("origin".into(), s.origin.as_str().into());
            o.insert("enabled".into(), s.enabled.into());
            o.insert(
                "settings".into(),
                serde_json::to_value(settings).unwrap_or_default(),
            );
            o.insert("password_set".into(), spec.has_password().into());
            o.insert("created_by".into(), s.created_by.clone().into());
            o.insert("created_at".into(), s.created_at.to_string().into());
            o.insert("updated_by".into(), s.updated_by.clone().into());
            o.insert("updated_at".into(), s.updated_at.to_string().into());
            if live.is_none() {
                o.insert(
                    "state".into(),
                    if s.enabled { "stopped" } else { "disabled" }.into(),
                );
            }
        }
        None => {
            o.insert("enabled".into(), true.into());
        }
    }
    serde_json::Value::Object(map)
}

/// `GET /api/v1/pipeline/sources`: the configuration's sources, then the stored ones.
pub async fn list(State(st): State<AppState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    require_read(&auth)?;
    let stored = st.store.list_pipeline_sources().await?;
    let live: Vec<InputStatus> = st
        .pipeline
        .get()
        .map(|m| m.status().inputs)
        .unwrap_or_default();
    let mut items = Vec::new();
    for l in live.iter().filter(|l| l.origin == "config") {
        items.push(view(None, Some(l)));
    }
    for s in &stored {
        if live
            .iter()
            .any(|l| l.name == s.name && l.origin == "config")
        {
            continue;
        }
        items.push(view(Some(s), live.iter().find(|l| l.name == s.name)));
    }
    Ok(Json(serde_json::json!({
        "pipeline": st.pipeline.get().is_some(),
        "items": items,
    })))
}

/// `GET /api/v1/pipeline/sources/{name}`.
pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    require_read(&auth)?;
    let live = status_of(&st, &name);
    if live.as_ref().is_some_and(|l| l.origin == "config") {
        return Ok(Json(view(None, live.as_ref())));
    }
    let stored = st
        .store
        .get_pipeline_source(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("source"))?;
    Ok(Json(view(Some(&stored), live.as_ref())))
}

/// Splits a request body into the source settings and `enabled`; type errors name the field.
fn parse_body(body: serde_json::Value) -> Result<(SourceSpec, Option<bool>), ApiError> {
    let serde_json::Value::Object(mut m) = body else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    let enabled = match m.remove("enabled") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(_) => return Err(ApiError::invalid("enabled", "must be true or false")),
    };
    // Field by field first, so a wrong type or an unknown field is named.
    for (k, v) in &m {
        let one = serde_json::Value::Object([(k.clone(), v.clone())].into_iter().collect());
        if let Err(e) = serde_json::from_value::<SourceSpec>(one) {
            let msg = e.to_string();
            let msg = if msg.starts_with("unknown field") {
                "is not a source setting".to_string()
            } else {
                msg
            };
            return Err(ApiError::invalid(k, msg));
        }
    }
    let spec = serde_json::from_value::<SourceSpec>(serde_json::Value::Object(m))
        .map_err(|e| ApiError::invalid("body", e.to_string()))?;
    Ok((spec, enabled))
}

fn json_body(
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<serde_json::Value, ApiError> {
    Ok(body?.0)
}

/// Validates, stores and applies a source; the answer carries the stored definition and the
/// live state (with the bind error when it could not start).
async fn save(
    st: &AppState,
    auth: &Auth,
    spec: SourceSpec,
    enabled: bool,
    before: Option<&PipelineSource>,
) -> Result<(PipelineSource, Option<String>), ApiError> {
    let cfg = spec
        .resolve(&|k| k.to_string())
        .map_err(|e| ApiError::invalid(&e.field, e.message))?;
    let now = Timestamp::now();
    let actor = auth.principal.actor();
    let record = PipelineSource {
        name: cfg.name.clone(),
        kind: cfg.kind.as_str().to_string(),
        settings: spec.settings_json(),
        enabled,
        origin: SourceOrigin::Api,
        created_by: before.map_or_else(|| actor.clone(), |b| b.created_by.clone()),
        created_at: before.map_or(now, |b| b.created_at),
        updated_by: actor,
        updated_at: now,
    };
    let stored = st.store.put_pipeline_source(record).await?;
    let mut start_error = None;
    if let Some(m) = st.pipeline.get() {
        match m.sources().apply(cfg, enabled).await {
            Ok(_) => {}
            Err(vigil_pipeline::PipelineError::ConfigSource(n)) => return Err(config_conflict(&n)),
            Err(e) => start_error = Some(e.to_string()),
        }
    }
    Ok((stored, start_error))
}

fn answer(
    st: &AppState,
    status: StatusCode,
    stored: &PipelineSource,
    start_error: Option<String>,
) -> Response {
    let mut v = view(Some(stored), status_of(st, &stored.name).as_ref());
    if let Some(o) = v.as_object_mut() {
        o.insert("applied".into(), st.pipeline.get().is_some().into());
        o.insert("start_error".into(), start_error.into());
    }
    (status, Json(v)).into_response()
}

/// What changed, for the audit log (never a secret's value).
fn changes(before: &PipelineSource, after: &PipelineSource) -> String {
    let mut c = Vec::new();
    if before.kind != after.kind {
        c.push(format!("kind {} -> {}", before.kind, after.kind));
    }
    if before.enabled != after.enabled {
        c.push(format!("enabled {} -> {}", before.enabled, after.enabled));
    }
    let (b, a) = (
        SourceSpec::from_stored(before).unwrap_or_default(),
        SourceSpec::from_stored(after).unwrap_or_default(),
    );
    if b.password != a.password {
        c.push("password changed".into());
    }
    let (mut bs, mut as_) = (b.without_secrets(), a.without_secrets());
    bs.kind = None;
    as_.kind = None;
    if bs != as_ {
        c.push("settings changed".into());
    }
    if c.is_empty() {
        "no change".into()
    } else {
        c.join(", ")
    }
}

/// Defines a source from a request body (administrators): validated, stored, started. The
/// error of a start that failed is returned beside the stored source.
pub async fn create_source(
    st: &AppState,
    auth: &Auth,
    body: serde_json::Value,
) -> Result<(PipelineSource, Option<String>), ApiError> {
    require_manage(auth)?;
    let (spec, enabled) = parse_body(body)?;
    let name = spec.name.clone().unwrap_or_default();
    if is_config_source(st, &name) {
        return Err(config_conflict(&name));
    }
    if !name.is_empty() && st.store.get_pipeline_source(&name).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("source '{name}' exists; change it with PUT or PATCH"),
        ));
    }
    let enabled = enabled.unwrap_or(true);
    let (stored, err) = save(st, auth, spec.normalized(), enabled, None).await?;
    audit_change(
        st,
        auth,
        "pipeline.source.create",
        format!("pipeline-source/{}", stored.name),
        None,
        &format!(
            "{}: kind {}, enabled {}{}",
            stored.name,
            stored.kind,
            stored.enabled,
            if err.is_some() {
                ", failed to start"
            } else {
                ""
            }
        ),
    )
    .await;
    Ok((stored, err))
}

/// `POST /api/v1/pipeline/sources`: 201 with the source; `start_error` when it could not
/// start (it is kept, shown failed).
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<Response> {
    let body = json_body(body)?;
    let (stored, err) = create_source(&st, &auth, body).await?;
    Ok(answer(&st, StatusCode::CREATED, &stored, err))
}

/// The stored API source `name`, 409 for a configuration one, 404 for none.
async fn existing(st: &AppState, name: &str) -> Result<PipelineSource, ApiError> {
    if is_config_source(st, name) {
        return Err(config_conflict(name));
    }
    match st.store.get_pipeline_source(name).await? {
        Some(s) if s.origin == SourceOrigin::Api => Ok(s),
        Some(_) => Err(config_conflict(name)),
        None => Err(ApiError::not_found("source")),
    }
}

async fn update(
    st: &AppState,
    auth: &Auth,
    name: String,
    before: PipelineSource,
    mut spec: SourceSpec,
    enabled: bool,
) -> Result<(PipelineSource, Option<String>), ApiError> {
    if spec.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::invalid(
            "name",
            "cannot be changed (delete the source and create another)",
        ));
    }
    spec.name = Some(name);
    let mut spec = spec.normalized();
    // The password is write-only: a change without one keeps the stored one.
    if spec.password.is_none() && spec.kind.as_deref() == Some("mqtt") {
        spec.password = SourceSpec::from_stored(&before)
            .ok()
            .and_then(|b| b.normalized().password);
    }
    let (stored, err) = save(st, auth, spec, enabled, Some(&before)).await?;
    audit_change(
        st,
        auth,
        "pipeline.source.update",
        format!("pipeline-source/{}", stored.name),
        None,
        &format!(
            "{}: {}{}",
            stored.name,
            changes(&before, &stored),
            if err.is_some() {
                ", failed to start"
            } else {
                ""
            }
        ),
    )
    .await;
    Ok((stored, err))
}

/// `PUT /api/v1/pipeline/sources/{name}`: replaces the definition (`enabled` defaults to the
/// current value; the password is kept when left out).
pub async fn replace(
    State(st): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<Response> {
    require_manage(&auth)?;
    let before = existing(&st, &name).await?;
    let (spec, enabled) = parse_body(json_body(body)?)?;
    let enabled = enabled.unwrap_or(before.enabled);
    let (stored, err) = update(&st, &auth, name, before, spec, enabled).await?;
    Ok(answer(&st, StatusCode::OK, &stored, err))
}

/// Changes the fields given of the API source `name` (`null` clears one, `enabled`
/// enables or disables it), stores and applies the result (administrators).
pub async fn patch_source(
    st: &AppState,
    auth: &Auth,
    name: &str,
    body: serde_json::Value,
) -> Result<(PipelineSource, Option<String>), ApiError> {
    require_manage(auth)?;
    let before = existing(st, name).await?;
    let serde_json::Value::Object(changes) = body else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    let mut merged = match &before.settings {
        serde_json::Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    merged.insert("name".into(), before.name.clone().into());
    merged.insert("kind".into(), before.kind.clone().into());
    merged.insert("enabled".into(), before.enabled.into());
    // A new URL with a password replaces the stored password (unless one is given too).
    let url_password = changes
        .get("url")
        .and_then(|v| v.as_str())
        .is_some_and(|u| {
            SourceSpec {
                url: Some(u.to_string()),
                ..SourceSpec::default()
            }
            .has_password()
        });
    if url_password && !changes.contains_key("password") {
        merged.remove("password");
    }
    for (k, v) in changes {
        if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    let (spec, enabled) = parse_body(serde_json::Value::Object(merged))?;
    let enabled = enabled.unwrap_or(before.enabled);
    update(st, auth, name.to_string(), before, spec, enabled).await
}

/// `PATCH /api/v1/pipeline/sources/{name}`: changes the fields given (`null` clears one);
/// `{"enabled": false}` disables the source.
pub async fn patch(
    State(st): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<Response> {
    let body = json_body(body)?;
    let (stored, err) = patch_source(&st, &auth, &name, body).await?;
    Ok(answer(&st, StatusCode::OK, &stored, err))
}

/// Stops and forgets the API source `name` (administrators).
pub async fn delete_source(st: &AppState, auth: &Auth, name: &str) -> Result<(), ApiError> {
    require_manage(auth)?;
    let before = existing(st, name).await?;
    if let Some(m) = st.pipeline.get() {
        match m.sources().remove(name).await {
            Ok(_) => {}
            Err(vigil_pipeline::PipelineError::ConfigSource(n)) => return Err(config_conflict(&n)),
            Err(e) => {
                tracing::error!(input = %name, error = %e, "stopping a source failed");
                return Err(ApiError::internal());
            }
        }
    }
    st.store.delete_pipeline_source(name).await?;
    audit_change(
        st,
        auth,
        "pipeline.source.delete",
        format!("pipeline-source/{name}"),
        None,
        &format!("{name}: kind {}", before.kind),
    )
    .await;
    Ok(())
}

/// `DELETE /api/v1/pipeline/sources/{name}`: stops the listener (its connections closed;
/// what it already spooled is still processed) and forgets the source. 204.
pub async fn delete(
    State(st): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    delete_source(&st, &auth, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
