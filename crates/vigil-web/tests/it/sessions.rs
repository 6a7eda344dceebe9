//! Browser sessions: cookies, CSRF, Origin checks, login throttling.

use crate::harness::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

async fn login(
    app: &TestApp,
    user: &str,
    password: &str,
) -> (StatusCode, serde_json::Value, Option<String>) {
    let req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": user, "password": password}).to_string(),
        ))
        .expect("req");
    let (s, v, h) = app.send(req).await;
    let cookie = h
        .get(header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or("").to_string());
    (s, v, cookie)
}

async fn make_user(app: &TestApp) -> String {
    let password = "a very good password".to_string();
    let (s, v) = app
        .json(
            "POST",
            "/api/v1/users",
            &app.admin,
            json!({"username":"wang.fang","role":"analyst","password":password}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    password
}

#[tokio::test]
async fn cookie_sessions_need_csrf_and_same_origin_for_changes() {
    let app = TestApp::new().await;
    let password = make_user(&app).await;
    let (s, v, cookie) = login(&app, "wang.fang", &password).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cookie = cookie.expect("session cookie");
    let csrf = v["csrf_token"].as_str().expect("csrf").to_string();

    let get = Request::get("/api/v1/organizations")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("req");
    assert_eq!(app.send(get).await.0, StatusCode::OK);

    let body = json!(crate::harness::org_spec("Via cookie")).to_string();
    let post = |csrf: Option<&str>, origin: Option<&str>| {
        let mut b = Request::post("/api/v1/organizations")
            .header(header::COOKIE, &cookie)
            .header(header::HOST, "vigil.example")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            b = b.header("x-csrf-token", c);
        }
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.body(Body::from(body.clone())).expect("req")
    };
    let (s, v, _) = app.send(post(None, None)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _, _) = app.send(post(Some("wrong"), None)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v, _) = app
        .send(post(Some(&csrf), Some("https://evil.example")))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v, _) = app
        .send(post(Some(&csrf), Some("http://vigil.example")))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Logout ends the session.
    let out = Request::post("/api/v1/auth/logout")
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .body(Body::empty())
        .expect("req");
    let (s, _, h) = app.send(out).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(
        h.get(header::SET_COOKIE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    let get = Request::get("/api/v1/organizations")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("req");
    assert_eq!(app.send(get).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_cookie_is_httponly_and_samesite() {
    let app = TestApp::new().await;
    let password = make_user(&app).await;
    let req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username":"wang.fang","password":password}).to_string(),
        ))
        .expect("req");
    let (_, _, h) = app.send(req).await;
    let c = h
        .get(header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .expect("cookie")
        .to_string();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"),
        "{c}"
    );
}

#[tokio::test]
async fn logins_are_throttled_after_repeated_failures() {
    let app = TestApp::new().await;
    let password = make_user(&app).await;
    for _ in 0..5 {
        let (s, v, _) = login(&app, "wang.fang", "wrong password!!").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["message"], "wrong user name or password");
    }
    // Even the right password is refused while throttled.
    let (s, v, cookie) = login(&app, "wang.fang", &password).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(cookie.is_none());
    // Unknown users get the same answer as wrong passwords.
    let (s, v, _) = login(&app, "nobody", "whatever password").await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "same client address is throttled too: {v}"
    );
    let (_, log) = app
        .get("/api/v1/audit?action=auth.login", &app.auditor)
        .await;
    let denied = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["outcome"] == "denied")
        .count();
    assert_eq!(denied, 5);
}
