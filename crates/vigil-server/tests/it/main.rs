//! `serve` with the ingestion pipeline configured: a syslog datagram sent to the configured
//! listener ends up stored in the organization that owns the sender's address.

use std::sync::Arc;
use std::time::Duration;

use vigil_model::{AssetKind, Contact, Importance, NewAsset, NewOrganization, Scope};
use vigil_server::config::{Config, RawConfig};
use vigil_store::{EventQuery, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_configured_pipeline() {
    let dir = tempfile::tempdir().expect("tmp");
    // A free UDP port for the listener (the pipeline reports bound addresses only to its
    // owner, and `serve` owns it here).
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[store]\ndata_dir = \"{}\"\n[pipeline]\nenabled = true\n\
         [[pipeline.listeners]]\nname = \"udp\"\nkind = \"syslog_udp\"\nlisten = \"127.0.0.1:{port}\"\n",
        dir.path().display()
    );
    let raw = RawConfig::from_toml(&toml).expect("toml");
    let cfg = Config::resolve(raw, &|_| None).expect("config");
    let store = vigil_server::open_store(&cfg.store).await.expect("store");
    let org = store
        .create_org(NewOrganization {
            name: "Org".into(),
            uscc: None,
            sector: "power".into(),
            region_code: "330100".into(),
            mlps_level: 3,
            cii: false,
            miit_type: None,
            miit_grade: None,
            responsible: Contact {
                name: "Li Wei".into(),
                ..Contact::default()
            },
            contacts: vec![],
        })
        .await
        .expect("org");
    store
        .create_assets(
            Scope::All,
            vec![NewAsset {
                org_id: org.id,
                name: "loopback".into(),
                kind: AssetKind::IpRange,
                importance: Importance::Low,
                ips: vec![],
                cidrs: vec!["127.0.0.0/8".parse().expect("cidr")],
                hostnames: vec![],
                domains: vec![],
                urls: vec![],
                macs: vec![],
                vendor: None,
                model: None,
                firmware: None,
                software: vec![],
                responsible: None,
                tags: vec![],
            }],
        )
        .await
        .expect("asset");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (up, is_up) = tokio::sync::oneshot::channel();
    let server = {
        let store: Arc<dyn Store> = store.clone();
        let cfg = cfg.clone();
        tokio::spawn(async move {
            vigil_server::serve_until(
                &cfg,
                store,
                None,
                move |addr| {
                    let _ = up.send(addr);
                },
                async move {
                    let _ = stopped.await;
                },
            )
            .await
        })
    };
    is_up.await.expect("listening");

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        udp.send_to(
            b"<13>1 2026-11-21T10:00:00Z somehost app - - - through serve",
            ("127.0.0.1", port),
        )
        .await
        .expect("send");
        let found = store
            .search_events(
                Scope::Org(org.id),
                &EventQuery {
                    limit: 10,
                    ..EventQuery::default()
                },
            )
            .await
            .expect("search")
            .items;
        if let Some(e) = found.first() {
            assert_eq!(e.event.message(), "through serve");
            assert_eq!(e.event.provenance.input, "udp");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no event stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    server.await.expect("join").expect("serve");
}
