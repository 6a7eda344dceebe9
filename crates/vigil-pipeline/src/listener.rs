//! Syslog listeners: UDP datagrams, TCP and TLS streams into the bounded queue in front of
//! the spool writer.
//!
//! Backpressure differs by transport, because only one of them can push back:
//! - **TCP** awaits room in the queue before reading more from the socket, so a slow pipeline
//!   fills the kernel buffers and the sender's TCP window closes (no loss, no unbounded
//!   buffer).
//! - **UDP** cannot slow the sender down; a datagram arriving while the queue is full is
//!   dropped and counted (`vigil_pipeline_dropped_total{input,reason="queue_full"}`).
//!
//! Frames longer than the listener's maximum are not parsed: their first bytes go to the
//! spool as [`RecordKind::Oversized`] records, which the processor turns into dead letters,
//! and they are counted (`vigil_pipeline_frame_errors_total`). An octet count beyond
//! [`MAX_DECLARED`] closes the connection: such a sender is not speaking RFC 6587.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, watch};
use vigil_ingest::{Frame, Framer, FramerConfig};
use vigil_model::OrgId;

use crate::spool::{Record, RecordKind};
use crate::tls::Tls;
use crate::{ListenerConfig, Queued, Stats};

/// An octet count above this closes the connection instead of skipping the frame.
pub const MAX_DECLARED: u64 = 1 << 30;
/// Bytes read from a socket at once.
const READ_CHUNK: usize = 64 * 1024;
/// A TLS client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) struct Ctx {
    pub cfg: ListenerConfig,
    pub tx: mpsc::Sender<Queued>,
    pub stats: Arc<Stats>,
    pub shutdown: watch::Receiver<bool>,
}

pub(crate) fn record(input: &str, sender: SocketAddr, kind: RecordKind, data: Vec<u8>) -> Record {
    Record {
        kind,
        received_at: Timestamp::now(),
        input: input.to_string(),
        sender: Some(sender.to_string()),
        org: None,
        data,
    }
}

pub(crate) fn count_received(stats: &Stats, input: &str) {
    stats.received.fetch_add(1, Ordering::Relaxed);
    if let Some(i) = stats.inputs.get(input) {
        i.note_received();
    }
    metrics::counter!("vigil_pipeline_received_total", "input" => input.to_string()).increment(1);
}

pub(crate) fn count_frame_error(stats: &Stats, input: &str, reason: &'static str) {
    stats.frame_errors.fetch_add(1, Ordering::Relaxed);
    if let Some(i) = stats.inputs.get(input) {
        i.frame_errors.fetch_add(1, Ordering::Relaxed);
    }
    metrics::counter!("vigil_pipeline_frame_errors_total", "input" => input.to_string(), "reason" => reason)
        .increment(1);
}

/// Strips trailing line ends and NULs some senders put at the end of datagrams.
pub(crate) fn trim_end(mut b: &[u8]) -> &[u8] {
    while let Some((last, rest)) = b.split_last() {
        if matches!(last, b'\n' | b'\r' | 0) {
            b = rest;
        } else {
            break;
        }
    }
    b
}

pub(crate) async fn run_udp(sock: UdpSocket, mut ctx: Ctx) {
    let mut buf = vec![0u8; 65_536];
    let input = ctx.cfg.name.clone();
    loop {
        let (n, peer) = tokio::select! {
            _ = ctx.shutdown.changed() => break,
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // E.g. ICMP port unreachable reported on the socket: not fatal.
                    tracing::debug!(input = %input, error = %e, "udp receive error");
                    continue;
                }
            },
        };
        let data = trim_end(&buf[..n]);
        if data.is_empty() {
            continue;
        }
        count_received(&ctx.stats, &input);
        let rec = if data.len() > ctx.cfg.max_frame {
            count_frame_error(&ctx.stats, &input, "oversized");
            record(
                &input,
                peer,
                RecordKind::Oversized,
                data[..data.len().min(256)].to_vec(),
            )
        } else {
            record(&input, peer, RecordKind::Frame, data.to_vec())
        };
        match ctx.tx.try_send(rec.into()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                ctx.stats.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(i) = ctx.stats.inputs.get(&input) {
                    i.dropped.fetch_add(1, Ordering::Relaxed);
                }
                metrics::counter!("vigil_pipeline_dropped_total", "input" => input.clone(), "reason" => "queue_full")
                    .increment(1);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
    tracing::info!(input = %input, "udp listener stopped");
}

/// Accepts TCP connections (TLS ones when `tls` is set) and reads each on its own task.
pub(crate) async fn run_tcp(listener: TcpListener, ctx: Ctx, tls: Option<Tls>) {
    let input = ctx.cfg.name.clone();
    let slots = Arc::new(Semaphore::new(ctx.cfg.max_connections));
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(input = %input, error = %e, "tcp accept failed");
                    // Out of file descriptors and similar: do not spin.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            ctx.stats
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            metrics::counter!("vigil_pipeline_connections_refused_total", "input" => input.clone())
                .increment(1);
            tracing::warn!(input = %input, %peer, "too many connections, refused");
            continue;
        };
        let conn = Ctx {
            cfg: ctx.cfg.clone(),
            tx: ctx.tx.clone(),
            stats: ctx.stats.clone(),
            shutdown: ctx.shutdown.clone(),
        };
        let tls = tls.clone();
        let open = ctx.stats.inputs.get(&input);
        if let Some(o) = &open {
            o.connections.fetch_add(1, Ordering::Relaxed);
        }
        tokio::spawn(async move {
            tracing::debug!(input = %conn.cfg.name, %peer, "tcp connection");
            match tls {
                None => stream_connection(stream, peer, conn, None).await,
                Some(tls) => tls_connection(&tls, stream, peer, conn).await,
            }
            if let Some(o) = open {
                o.connections.fetch_sub(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    tracing::info!(input = %input, "tcp listener stopped");
}

/// Sends one frame to the queue, waiting for room (this is the TCP backpressure). `false`
/// when the pipeline is stopping.
async fn forward(ctx: &mut Ctx, peer: SocketAddr, org: Option<OrgId>, frame: Frame) -> bool {
    let input = &ctx.cfg.name;
    let mut rec = match frame {
        Frame::Message { bytes, .. } => {
            count_received(&ctx.stats, input);
            record(input, peer, RecordKind::Frame, bytes)
        }
        Frame::Oversized { declared, head, .. } => {
            count_received(&ctx.stats, input);
            count_frame_error(&ctx.stats, input, "oversized");
            if declared.is_some_and(|d| d > MAX_DECLARED) {
                tracing::warn!(input = %input, %peer, declared, "absurd octet count, closing the connection");
                return false;
            }
            record(input, peer, RecordKind::Oversized, head)
        }
    };
    rec.org = org;
    if ctx.tx.capacity() == 0 {
        metrics::counter!("vigil_pipeline_backpressure_waits_total", "input" => input.clone())
            .increment(1);
    }
    tokio::select! {
        r = ctx.tx.send(rec.into()) => r.is_ok(),
        _ = ctx.shutdown.changed() => false,
    }
}

/// The TLS handshake, the client certificate's organization, then the stream.
async fn tls_connection(tls: &Tls, stream: TcpStream, peer: SocketAddr, mut ctx: Ctx) {
    let input = ctx.cfg.name.clone();
    let hs = tokio::select! {
        _ = ctx.shutdown.changed() => return,
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)) => r,
    };
    let s = match hs {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            metrics::counter!("vigil_pipeline_tls_handshake_failures_total", "input" => input.clone())
                .increment(1);
            tracing::warn!(input = %input, %peer, error = %e, "tls handshake failed");
            return;
        }
        Err(_) => {
            metrics::counter!("vigil_pipeline_tls_handshake_failures_total", "input" => input.clone())
                .increment(1);
            tracing::warn!(input = %input, %peer, "tls handshake timed out");
            return;
        }
    };
    let org = tls.org_of(s.get_ref().1.peer_certificates().and_then(|c| c.first()));
    if let Some((name, org)) = &org {
        tracing::debug!(input = %input, %peer, client = %name, org = %org.0, "tls client mapped to an organization");
    }
    stream_connection(s, peer, ctx, org.map(|(_, o)| o)).await;
}

/// Reads frames from one connection until it ends or the pipeline stops.
async fn stream_connection<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    mut ctx: Ctx,
    org: Option<OrgId>,
) {
    let mut framer = Framer::new(FramerConfig {
        max_frame: ctx.cfg.max_frame,
        multiline: false,
    });
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = tokio::select! {
            _ = ctx.shutdown.changed() => return,
            r = stream.read(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(input = %ctx.cfg.name, %peer, error = %e, "tcp read error");
                    0
                }
            },
        };
        if n == 0 {
            for f in framer.finish() {
                if !forward(&mut ctx, peer, org, f).await {
                    return;
                }
            }
            return;
        }
        framer.push(&buf[..n]);
        while let Some(f) = framer.next_frame() {
            if !forward(&mut ctx, peer, org, f).await {
                return;
            }
        }
    }
}
