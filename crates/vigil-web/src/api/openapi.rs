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
        let op = operation(r);
        if let Value::Object(m) = paths
            .entry(format!("/api/v1{}", r.path))
            .or_insert_with(|| json!({}))
        {
            m.insert(r.method.to_lowercase(), op);
        }
    }
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
