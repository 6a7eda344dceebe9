//! `GET /api/v1/pipeline/dead-letters` from the store: administrators and analysts search
//! every dead letter, organization users only those attributed to their organization,
//! auditors none; filters by reason, source, time and text; raw bytes as text or hex with
//! base64 beside; counts by reason; cursor paging; bad parameters named.

use crate::harness::{TestApp, token};
use axum::http::StatusCode;
use vigil_model::{OrgId, Role, Timestamp};
use vigil_store::{DeadLetterReason, NewDeadLetter};

fn letter(
    i: i64,
    source: &str,
    reason: DeadLetterReason,
    raw: &[u8],
    org: Option<OrgId>,
) -> NewDeadLetter {
    NewDeadLetter {
        received_at: Timestamp::from_second(1_780_000_000 + i).expect("time"),
        source: source.into(),
        sender: Some(format!("198.51.100.{i}:6514")),
        reason,
        detail: format!("problem {i}"),
        raw: raw.to_vec(),
        org_id: org,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_searched_scoped_and_paged() {
    let app = TestApp::new().await;
    let (a, b) = (app.a.id, app.b.id);
    app.store
        .append_dead_letters(vec![
            letter(
                1,
                "tls",
                DeadLetterReason::Parse,
                b"garbled <a> line",
                Some(a),
            ),
            letter(2, "tls", DeadLetterReason::Parse, b"\xfe\xff\x00x", Some(b)),
            letter(
                3,
                "udp",
                DeadLetterReason::Oversized,
                b"big frame head",
                None,
            ),
            letter(
                4,
                "api",
                DeadLetterReason::Unattributed,
                b"{\"host\":\"h\"}",
                Some(a),
            ),
        ])
        .await
        .expect("append");
    let base = "/api/v1/pipeline/dead-letters";

    // Platform staff see all four, newest first, with counts by reason.
    for secret in [&app.admin, &app.analyst] {
        let (s, v) = app.get(base, secret).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["matched"], 4, "{v}");
        assert_eq!(v["by_reason"]["parse"], 2, "{v}");
        let inputs: Vec<_> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["input"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(inputs, ["api", "udp", "tls", "tls"]);
    }
    // Raw bytes: text when UTF-8, hex otherwise, always base64.
    let (_, v) = app.get(&format!("{base}?input=tls"), &app.admin).await;
    assert_eq!(v["matched"], 2, "{v}");
    let bin = &v["items"][0];
    assert_eq!(bin["raw_encoding"], "hex", "{bin}");
    assert_eq!(bin["raw"], "feff0078", "{bin}");
    assert_eq!(bin["raw_b64"], "/v8AeA==", "{bin}");
    assert_eq!(bin["raw_len"], 4);
    assert_eq!(bin["sender"], "198.51.100.2:6514");
    assert_eq!(v["items"][1]["raw_encoding"], "text");
    assert_eq!(v["items"][1]["raw"], "garbled <a> line");

    // Filters: reason, text (case-insensitive, raw and detail), time range.
    let (_, v) = app
        .get(&format!("{base}?reason=oversized"), &app.analyst)
        .await;
    assert_eq!(v["matched"], 1, "{v}");
    assert_eq!(v["items"][0]["input"], "udp");
    let (_, v) = app.get(&format!("{base}?q=GARBLED"), &app.analyst).await;
    assert_eq!(v["matched"], 1, "{v}");
    let (_, v) = app
        .get(
            &format!("{base}?since=2026-05-28T20:26:42Z&until=2026-05-28T20:26:44Z"),
            &app.analyst,
        )
        .await;
    assert_eq!(v["matched"], 2, "{v}");

    // Pages of one, by cursor, through all four; a bad cursor is a 400.
    let mut url = format!("{base}?limit=1");
    let mut seen = 0;
    loop {
        let (s, v) = app.get(&url, &app.admin).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        seen += v["items"].as_array().map_or(0, Vec::len);
        match v["next_cursor"].as_str() {
            Some(c) => url = format!("{base}?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, 4);
    let (s, _) = app
        .get(&format!("{base}?cursor=nonsense"), &app.admin)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = app
        .get(&format!("{base}?reason=nonsense"), &app.admin)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = app
        .get(&format!("{base}?since=yesterday"), &app.admin)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // An organization user sees its organization's two; another organization's, one.
    let (s, v) = app.get(base, &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["matched"], 2, "{v}");
    assert!(
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["org_id"] == a.to_string())
    );
    let (_, v) = app.get(&format!("{base}?q=garbled"), &app.officer).await;
    assert_eq!(v["matched"], 1, "{v}");
    let officer_b = token(app.store.as_ref(), Role::OrgUser, Some(b)).await;
    let (_, v) = app.get(base, &officer_b).await;
    assert_eq!(v["matched"], 1, "{v}");
    let (_, v) = app.get(&format!("{base}?q=garbled"), &officer_b).await;
    assert_eq!(v["matched"], 0, "{v}");

    // Auditors and anonymous callers: refused.
    let (s, _) = app.get(base, &app.auditor).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get(base, "vgl_not_a_token").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
