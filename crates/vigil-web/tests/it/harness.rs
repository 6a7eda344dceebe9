//! A fresh application over a temporary SQLite store, with two organizations (A and B), each
//! with an asset, an event, an alert and an incident, and API tokens for every role.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;
use vigil_model::*;
use vigil_store::Store;
use vigil_web::{AppState, WebConfig};

pub struct Fixture {
    pub id: OrgId,
    pub name: String,
    pub asset: AssetId,
    pub event: EventId,
    pub alert: AlertId,
    pub incident: IncidentId,
    pub user: UserId,
    pub token: TokenId,
}

pub struct TestApp {
    pub _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    /// The application's state (the router shares it): tests install a notifier with
    /// `state.set_notifier(...)`.
    pub state: AppState,
    pub app: Router,
    pub a: Fixture,
    pub b: Fixture,
    /// Bearer secrets per role: admin, analyst, auditor, org_user (of A).
    pub admin: String,
    pub analyst: String,
    pub auditor: String,
    pub officer: String,
}

pub fn org_spec(name: &str) -> NewOrganization {
    NewOrganization {
        name: name.into(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 3,
        cii: true,
        miit_type: None,
        miit_grade: None,
        responsible: Contact {
            name: "Zhang San".into(),
            ..Contact::default()
        },
        contacts: vec![],
    }
}

pub fn asset_spec(org: OrgId, name: &str) -> NewAsset {
    NewAsset {
        org_id: org,
        name: name.into(),
        kind: AssetKind::Plc,
        importance: Importance::High,
        ips: vec!["10.1.2.3".parse().expect("ip")],
        cidrs: vec![],
        hostnames: vec![],
        domains: vec![],
        urls: vec![],
        macs: vec![],
        vendor: Some("Siemens".into()),
        model: None,
        firmware: None,
        software: vec![],
        responsible: None,
        tags: vec![],
    }
}

async fn fixture(store: &dyn Store, name: &str) -> Fixture {
    let org = store.create_org(org_spec(name)).await.expect("org");
    let asset = store
        .create_assets(Scope::All, vec![asset_spec(org.id, &format!("{name} PLC"))])
        .await
        .expect("asset")
        .remove(0);
    let now = Timestamp::now();
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(
        "message".to_string(),
        json!(format!("login failure at {name}")),
    );
    fields.insert("source.ip".to_string(), json!("203.0.113.7"));
    let event = store
        .append_events(vec![NewEvent {
            org_id: org.id,
            asset_id: Some(asset.id),
            timestamp: now,
            received_at: now,
            provenance: Provenance {
                input: "test".into(),
                sender: None,
            },
            fields,
            native: Default::default(),
            raw: b"raw".to_vec(),
        }])
        .await
        .expect("event")[0];
    let alerts = store
        .create_alerts(vec![
            alert_spec(org.id, name, event),
            alert_spec(org.id, name, event),
        ])
        .await
        .expect("alerts");
    let incident = store
        .create_incident(
            NewIncident {
                org_id: org.id,
                title: format!("{name} brute force"),
                description: String::new(),
                category: "NA".into(),
                subcategory: Some("NACRED".into()),
                grade: Grade::General,
                asset_ids: vec![asset.id],
                alert_ids: vec![alerts[1].id],
                occurred_at: now,
            },
            "user:test",
        )
        .await
        .expect("incident");
    // Triaged and notified: the organization has a notice and its next step is to
    // acknowledge it.
    for status in [
        vigil_model::IncidentStatus::Triaged,
        vigil_model::IncidentStatus::Notified,
    ] {
        store
            .update_incident(
                vigil_model::Scope::All,
                incident.id,
                vigil_store::IncidentUpdate {
                    status: Some(status),
                    ..Default::default()
                },
                "user:test",
            )
            .await
            .expect("workflow step");
    }
    let user = store
        .create_user(
            NewUser {
                username: format!("officer-{}", org.id.0.simple()),
                display_name: String::new(),
                role: Role::OrgUser,
                org_id: Some(org.id),
                locale: Locale::En,
            },
            vigil_crypto::hash_password("officer password 1").expect("hash"),
        )
        .await
        .expect("user");
    let token = TokenId::new();
    store
        .create_token(
            ApiToken {
                id: token,
                name: format!("{name}-sensor"),
                role: Role::OrgUser,
                org_id: Some(org.id),
                created_by: "test".into(),
                created_at: now,
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            vigil_crypto::secret_hash(&vigil_crypto::new_secret("vgl_")),
        )
        .await
        .expect("token");
    Fixture {
        id: org.id,
        name: name.into(),
        asset: asset.id,
        event,
        alert: alerts[0].id,
        incident: incident.id,
        user: user.id,
        token,
    }
}

pub fn alert_spec(org: OrgId, name: &str, event: EventId) -> NewAlert {
    NewAlert {
        org_id: org,
        asset_id: None,
        source: AlertSource::Sigma,
        rule_id: "rule-1".into(),
        title: format!("{name} alert"),
        severity: Severity::High,
        category: Some("NACRED".into()),
        detected_at: Timestamp::now(),
        event_ids: vec![event],
        details: json!({}),
    }
}

pub async fn token(store: &dyn Store, role: Role, org: Option<OrgId>) -> String {
    let secret = vigil_crypto::new_secret("vgl_");
    store
        .create_token(
            ApiToken {
                id: TokenId::new(),
                name: format!("{}-token", role.as_str()),
                role,
                org_id: org,
                created_by: "test".into(),
                created_at: Timestamp::now(),
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            vigil_crypto::secret_hash(&secret),
        )
        .await
        .expect("token");
    secret
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(WebConfig::default()).await
    }

    pub async fn with_config(config: WebConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(vigil_store::sqlite::SqliteStore::open(dir.path()).expect("sqlite store"));
        Self::with_store(dir, store, config).await
    }

    /// The same application over PostgreSQL, in a fresh schema dropped afterwards; `None`
    /// (after a SKIP line) without `VIGIL_TEST_POSTGRES_URL`.
    pub async fn postgres(test: &str) -> Option<Self> {
        let url = vigil_testkit::service_url("VIGIL_TEST_POSTGRES_URL", test)?;
        let schema = format!("web_{}", uuid::Uuid::now_v7().simple());
        let store = vigil_store::postgres::PgStore::connect_with_schema(&url, &schema)
            .await
            .expect("postgres store")
            .drop_schema_when_dropped();
        let dir = tempfile::tempdir().expect("tempdir");
        Some(Self::with_store(dir, Arc::new(store), WebConfig::default()).await)
    }

    pub async fn with_store(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        config: WebConfig,
    ) -> Self {
        let a = fixture(store.as_ref(), "Org A Power").await;
        let b = fixture(store.as_ref(), "Org B Water").await;
        let admin = token(store.as_ref(), Role::PlatformAdmin, None).await;
        let analyst = token(store.as_ref(), Role::Analyst, None).await;
        let auditor = token(store.as_ref(), Role::Auditor, None).await;
        let officer = token(store.as_ref(), Role::OrgUser, Some(a.id)).await;
        let state = AppState::new(store.clone(), config, None);
        state.set_notice_key(vigil_crypto::Sm2PrivateKey::generate().expect("platform key"));
        let app = vigil_web::router(state.clone());
        Self {
            _dir: dir,
            store,
            state,
            app,
            a,
            b,
            admin,
            analyst,
            auditor,
            officer,
        }
    }

    pub fn secret(&self, role: Role) -> &str {
        match role {
            Role::PlatformAdmin => &self.admin,
            Role::Analyst => &self.analyst,
            Role::Auditor => &self.auditor,
            Role::OrgUser => &self.officer,
        }
    }

    /// Sends a request; JSON bodies get the JSON content type, others the one given.
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value, headers)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        secret: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path);
        if let Some(s) = secret {
            b = b.header(header::AUTHORIZATION, format!("Bearer {s}"));
        }
        let req = match body {
            Some((ct, bytes)) => b
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(bytes))
                .expect("request"),
            None => b.body(Body::empty()).expect("request"),
        };
        let (s, v, _) = self.send(req).await;
        (s, v)
    }

    pub async fn get(&self, path: &str, secret: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(secret), None).await
    }

    pub async fn json(
        &self,
        method: &str,
        path: &str,
        secret: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.call(
            method,
            path,
            Some(secret),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }
}
