//! The OpenAPI 3.1 document, built from [`super::ROUTES`].
//!
//! Built from the route table rather than with utoipa's derive macros: the table is already
//! the single list the access tests walk, and generating from it keeps one source of truth
//! without annotating every handler and every model type.

use super::ROUTES;
use axum::Json;
use serde_json::{Value, json};

pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let mut op = operation(r);
        if let Some(schema) = body_schema(r.method, r.path)
            && let Some(content) = op.pointer_mut("/requestBody/content/application~1json")
        {
            content["schema"] = json!({ "$ref": format!("#/components/schemas/{schema}") });
        }
        if r.method == "POST" && r.path == "/events" {
            bulk_ingest_responses(&mut op);
        }
        if let Value::Object(m) = paths
            .entry(format!("/api/v1{}", r.path))
            .or_insert_with(|| json!({}))
        {
            m.insert(r.method.to_lowercase(), op);
        }
    }
    paths.insert("/edl/{file}".into(), edl_path());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Cyber situational awareness and emergency response. Authenticate with 'Authorization: Bearer <token>' (API tokens) or a session cookie plus the X-CSRF-Token header. Errors are {code, message, details}.",
        },
        "servers": [{ "url": "/" }],
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
            },
            "schemas": {
                "IncidentImpact": incident_impact_schema(),
                "IntelSourcePatch": intel_source_patch_schema(),
                "EdlList": edl_list_schema(),
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string" },
                        "message": { "type": "string" },
                        "details": {},
                    },
                },
            },
        },
        "security": [{ "bearer": [] }, { "session": [] }],
        "paths": paths,
    })
}

/// The named request schema of a route, for the routes that have one.
fn body_schema(method: &str, path: &str) -> Option<&'static str> {
    match (method, path) {
        ("PUT", "/incidents/{id}/impact") => Some("IncidentImpact"),
        ("PATCH", "/intel/sources/{id}") => Some("IntelSourcePatch"),
        ("PUT", "/intel/edl/{id}") => Some("EdlList"),
        _ => None,
    }
}

fn tlp_enum() -> Value {
    json!({ "type": ["string", "null"], "enum": ["clear", "green", "amber", "amber+strict", "red", null] })
}

/// `PATCH /intel/sources/{id}`: fields left out stay; `null` clears the optional ones.
fn intel_source_patch_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "enabled": { "type": "boolean", "description": "a disabled source's indicators stop matching and leave the blocklists" },
            "trust": { "type": "integer", "minimum": 0, "maximum": 100, "description": "default confidence of its values" },
            "default_tlp": tlp_enum(),
            "description": { "type": ["string", "null"], "maxLength": 2000 },
        },
    })
}

/// `PUT /intel/edl/{name}`: the blocklist filter of an external dynamic list.
fn edl_list_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "description": { "type": ["string", "null"], "maxLength": 2000 },
            "filter": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "types": { "type": "array", "items": { "type": "string", "enum": ["ipv4", "ipv6", "cidr", "domain", "url"] } },
                    "min_confidence": { "type": ["integer", "null"], "minimum": 0, "maximum": 100 },
                    "tlp": { "type": ["string", "null"], "enum": ["clear", "green", "amber", null], "description": "highest marking included (default green); TLP:RED is never exported" },
                    "sources": { "type": "array", "items": { "type": "string" }, "description": "source names or ids; empty: every enabled source" },
                },
            },
        },
    })
}

/// `GET /edl/{file}`: the external dynamic list firewalls poll (outside `/api/v1`).
fn edl_path() -> Value {
    json!({
        "get": {
            "tags": ["intel"],
            "summary": "An external dynamic list as plain text, one value per line ({file} is <name>.txt); bearer token; ETag, 304 on If-None-Match",
            "parameters": [
                { "name": "file", "in": "path", "required": true, "schema": { "type": "string" } },
                { "name": "If-None-Match", "in": "header", "required": false, "schema": { "type": "string" } },
            ],
            "responses": {
                "200": { "description": "the list", "content": { "text/plain": { "schema": { "type": "string" } } } },
                "304": { "description": "unchanged since the ETag given" },
                "401": { "description": "no or a bad token" },
                "403": { "description": "organization users may not export above TLP:GREEN" },
                "404": { "description": "no such list" },
            },
        },
    })
}

/// `vigil_model::IncidentImpact`: every figure optional (absent = not recorded), bounded.
fn incident_impact_schema() -> Value {
    use vigil_model::incident as m;
    let figure = |max: u64, d: &str| json!({ "type": "integer", "minimum": 0, "maximum": max, "description": d });
    let text = json!({ "type": "string", "maxLength": m::MAX_IMPACT_TEXT });
    let codes = |all: Vec<&'static str>| json!({ "type": "string", "enum": all });
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "outage_minutes": figure(m::MAX_IMPACT_MINUTES, "whole outage, minutes"),
            "degraded_minutes": figure(m::MAX_IMPACT_MINUTES, "main functions impaired, minutes"),
            "people_affected": figure(m::MAX_PEOPLE_AFFECTED, "people affected"),
            "personal_records_leaked": figure(m::MAX_RECORDS_LEAKED, "personal records leaked"),
            "direct_loss_yuan": figure(m::MAX_DIRECT_LOSS_YUAN, "direct economic loss, yuan"),
            "defacement_homepage_minutes": figure(m::MAX_IMPACT_MINUTES, "home page defaced, minutes"),
            "defacement_other_minutes": figure(m::MAX_IMPACT_MINUTES, "other pages defaced, minutes"),
            "ransom": {
                "type": "object",
                "additionalProperties": false,
                "required": ["status", "amount", "currency"],
                "properties": {
                    "status": codes(m::RansomStatus::ALL.iter().map(|s| s.as_str()).collect()),
                    "amount": { "type": ["string", "number"], "description": "positive decimal, e.g. \"2.5\"" },
                    "currency": { "type": "string", "minLength": 2, "maxLength": 10, "description": "CNY, USD, BTC, XMR..." },
                    "payment_method": codes(m::PaymentMethod::ALL.iter().map(|p| p.as_str()).collect()),
                    "payment_date": { "type": "string", "format": "date", "description": "required when paid" },
                    "wallet_address": { "type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9_-]+$" },
                },
            },
            "support_requested": text.clone(),
            "preliminary_cause": text.clone(),
            "affected_scope": text,
        },
    })
}

/// `POST /events`: NDJSON or a JSON array; 202 when the pipeline spooled it, 503 with
/// Retry-After when it sheds load or the spool is full.
fn bulk_ingest_responses(op: &mut Value) {
    if let Some(content) = op.pointer_mut("/requestBody/content") {
        content["application/json"] =
            json!({ "schema": { "type": "array", "items": { "type": "object" } } });
    }
    if let Some(responses) = op.get_mut("responses") {
        let retry = json!({ "Retry-After": { "description": "seconds to wait before sending the request again", "schema": { "type": "integer" } } });
        responses["202"] = json!({
            "description": "Accepted into the pipeline's durable spool (spooled, rejected, position, results per line); detected and stored after",
            "content": { "application/json": {} },
        });
        responses["503"] = json!({
            "description": "Overloaded or spool full (codes overloaded, spool_full, spool_unavailable); nothing of the request was accepted",
            "headers": retry,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        });
    }
}

fn operation(r: &super::RouteDoc) -> Value {
    // Every `{name}` segment of the path is a path parameter.
    let params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
        })
        .collect();
    let error = json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let mut op = json!({
        "tags": [r.tag],
        "summary": r.summary,
        "operationId": format!("{}_{}", r.method.to_lowercase(), r.path.trim_start_matches('/').replace(['/', '{', '}', '.'], "_")),
        "parameters": params,
        "responses": {
            "200": { "description": "OK", "content": { "application/json": {} } },
            "400": { "description": "Bad request", "content": error["content"].clone() },
            "401": { "description": "Not authenticated", "content": error["content"].clone() },
            "403": { "description": "Not allowed for this role", "content": error["content"].clone() },
            "404": { "description": "Not found (or outside the caller's organization)", "content": error["content"].clone() },
            "422": { "description": "Invalid input; details name the field", "content": error["content"].clone() },
        },
    });
    if let (Some(media), Some(obj)) = (r.body, op.as_object_mut()) {
        obj.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { media: { "schema": {} } } }),
        );
    }
    op
}

pub async fn document() -> Json<Value> {
    Json(build())
}
