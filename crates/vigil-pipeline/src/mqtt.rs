//! The MQTT listener: a subscription for industrial sites whose gateways publish to a broker.
//!
//! The listener is a client of the broker: it connects with `clean_session = false` (a
//! persistent session, so the broker keeps QoS 1 messages while Vigil is away), subscribes
//! to its topics with QoS 1 when the broker has no session for it, and turns each message
//! payload into one spooled record (`sender` = the topic). Acknowledgements are manual: the
//! PUBACK of a message is sent only after the spool append that holds it has returned
//! (fsynced with the default policy), so a message the broker considers delivered is durable.
//! A crash before the PUBACK makes the broker deliver the message again: at least once, like
//! the rest of the pipeline.
//!
//! Backpressure: while the queue in front of the spool is full the listener stops reading
//! from the broker connection; the broker's in-flight window (unacknowledged messages) then
//! holds further messages back at the broker.
//!
//! Subscriptions live in the broker's session: changing `topics` for an existing `client_id`
//! takes effect once the broker has dropped the session (or with a new `client_id`).

use std::time::Duration;

use jiff::Timestamp;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, oneshot};

use crate::Queued;
use crate::listener::{Ctx, count_frame_error, count_received, trim_end};
use crate::spool::{Record, RecordKind};

/// Messages received and not yet acknowledged, at most (between the listener and its
/// acknowledging task).
const PENDING_ACKS: usize = 256;
/// Largest MQTT packet read from the broker; bigger ones break the connection (set the
/// broker's `message_size_limit` below it). Payloads above the listener's `max_frame` are
/// dead letters.
const MAX_PACKET: usize = 4 << 20;

/// Where and what an MQTT listener subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Topic filters (`+` and `#` wildcards allowed), subscribed with QoS 1.
    pub topics: Vec<String>,
    /// The session name at the broker: keep it stable, the persistent session hangs on it.
    pub client_id: String,
    pub keep_alive: Duration,
}

/// Why MQTT settings are invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MqttConfigError {
    #[error("'{0}' is not a URL of the form mqtt://[user:password@]host[:port]")]
    Url(String),
    #[error("at least one topic is needed")]
    NoTopics,
    #[error("topic filter '{0}' is invalid (empty, or a '#' that is not last)")]
    Topic(String),
    #[error("client_id must be 1 to 128 characters")]
    ClientId,
}

impl MqttSettings {
    /// Parses `url` (`mqtt://` or `tcp://`, port 1883 by default) and checks the topics.
    pub fn new(url: &str, topics: Vec<String>, client_id: &str) -> Result<Self, MqttConfigError> {
        let bad = || MqttConfigError::Url(url.to_string());
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(bad)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (username, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(n.to_string()), Some(p.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            // [v6]:port
            let (h, p) = h.split_once(']').ok_or_else(bad)?;
            let port = match p.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if p.is_empty() => 1883,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (hostport.to_string(), 1883),
            }
        };
        if host.is_empty() || host.contains('/') || port == 0 {
            return Err(bad());
        }
        if topics.is_empty() {
            return Err(MqttConfigError::NoTopics);
        }
        for t in &topics {
            let hash = t.find('#');
            if t.is_empty() || hash.is_some_and(|i| i + 1 != t.len()) {
                return Err(MqttConfigError::Topic(t.clone()));
            }
        }
        if client_id.is_empty() || client_id.chars().count() > 128 {
            return Err(MqttConfigError::ClientId);
        }
        Ok(MqttSettings {
            host,
            port,
            username,
            password,
            topics,
            client_id: client_id.to_string(),
            keep_alive: Duration::from_secs(30),
        })
    }

    /// The broker, without credentials (for logs).
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("mqtt://[{}]:{}", self.host, self.port)
        } else {
            format!("mqtt://{}:{}", self.host, self.port)
        }
    }

    fn options(&self) -> MqttOptions {
        let mut o = MqttOptions::new(self.client_id.clone(), self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive)
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(MAX_PACKET, 64 * 1024);
        if let Some(u) = &self.username {
            o.set_credentials(u.clone(), self.password.clone().unwrap_or_default());
        }
        o
    }
}

fn record(input: &str, topic: &str, kind: RecordKind, data: Vec<u8>) -> Record {
    Record {
        kind,
        received_at: Timestamp::now(),
        input: input.to_string(),
        sender: Some(topic.to_string()),
        org: None,
        data,
    }
}

/// Runs the subscription until shutdown, reconnecting (with a growing pause, up to 30 s)
/// whenever the broker is unreachable.
pub(crate) async fn run(settings: MqttSettings, mut ctx: Ctx) {
    let input = ctx.cfg.name.clone();
    // The request channel carries acknowledgements to the event loop. It is larger than the
    // pending window, so the acknowledging task can never be stuck on it while this task is
    // stuck handing it a message (no deadlock between the two).
    let (client, mut eventloop) = AsyncClient::new(settings.options(), PENDING_ACKS * 2 + 16);
    let (pending_tx, pending_rx) = mpsc::channel(PENDING_ACKS);
    let mut acker = tokio::spawn(acknowledge(client.clone(), pending_rx, input.clone()));
    let mut backoff = Duration::from_millis(200);
    let mut connected = false;
    loop {
        let ev = tokio::select! {
            _ = ctx.shutdown.changed() => break,
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff = Duration::from_millis(200);
                connected = true;
                if let Some(i) = ctx.stats.inputs.get(&input) {
                    i.set_state(crate::status::InputState::Connected);
                }
                metrics::gauge!("vigil_pipeline_mqtt_connected", "input" => input.clone()).set(1.0);
                tracing::info!(input = %input, broker = %settings.url(), session_present = ack.session_present, "mqtt connected");
                if !ack.session_present {
                    for t in &settings.topics {
                        if let Err(e) = client.try_subscribe(t.clone(), QoS::AtLeastOnce) {
                            tracing::error!(input = %input, topic = %t, error = %e, "mqtt subscribe request failed");
                        }
                    }
                }
            }
            Ok(Event::Incoming(Packet::SubAck(s))) => {
                for code in &s.return_codes {
                    if matches!(code, rumqttc::SubscribeReasonCode::Failure) {
                        tracing::error!(input = %input, "mqtt broker refused a subscription");
                    } else {
                        ctx.stats
                            .mqtt_subscribed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if !handle_publish(&mut ctx, &input, &pending_tx, p).await {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(i) = ctx.stats.inputs.get(&input) {
                    i.set_state(crate::status::InputState::Disconnected);
                }
                if connected {
                    connected = false;
                    metrics::gauge!("vigil_pipeline_mqtt_connected", "input" => input.clone())
                        .set(0.0);
                }
                tracing::warn!(input = %input, broker = %settings.url(), error = %e, retry_in_ms = backoff.as_millis() as u64, "mqtt connection failed");
                tokio::select! {
                    _ = ctx.shutdown.changed() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
    // Acknowledge what the spool writer still appends, for up to two seconds: the event loop
    // must keep running for the PUBACKs to leave. What is not acknowledged by then is
    // delivered again by the broker at the next start (at least once).
    drop(pending_tx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    if connected {
        loop {
            tokio::select! {
                _ = &mut acker => break,
                _ = tokio::time::sleep_until(deadline) => break,
                ev = eventloop.poll() => if ev.is_err() { break },
            }
        }
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_millis(500), eventloop.poll()).await;
    }
    acker.abort();
    metrics::gauge!("vigil_pipeline_mqtt_connected", "input" => input.clone()).set(0.0);
    tracing::info!(input = %input, "mqtt listener stopped");
}

/// Queues one message for the spool and hands its acknowledgement to the acknowledging task.
/// `false` when the pipeline is stopping.
async fn handle_publish(
    ctx: &mut Ctx,
    input: &str,
    pending: &mpsc::Sender<(rumqttc::Publish, oneshot::Receiver<()>)>,
    p: rumqttc::Publish,
) -> bool {
    // What `ack` needs (QoS and packet id), without holding on to the payload.
    let mut ack = rumqttc::Publish::new("", p.qos, Vec::new());
    ack.pkid = p.pkid;
    let data = trim_end(&p.payload);
    let (done_tx, done_rx) = oneshot::channel();
    if data.is_empty() {
        // Nothing to keep; acknowledged at once (in order with the others).
        let _ = done_tx.send(());
    } else {
        count_received(&ctx.stats, input);
        let rec = if data.len() > ctx.cfg.max_frame {
            count_frame_error(&ctx.stats, input, "oversized");
            record(
                input,
                &p.topic,
                RecordKind::Oversized,
                data[..data.len().min(256)].to_vec(),
            )
        } else {
            record(input, &p.topic, RecordKind::Frame, data.to_vec())
        };
        let q = Queued {
            record: rec,
            done: Some(done_tx),
        };
        if ctx.tx.capacity() == 0 {
            metrics::counter!("vigil_pipeline_backpressure_waits_total", "input" => input.to_string())
                .increment(1);
        }
        let sent = tokio::select! {
            r = ctx.tx.send(q) => r.is_ok(),
            _ = ctx.shutdown.changed() => false,
        };
        if !sent {
            return false;
        }
    }
    if p.qos == QoS::AtMostOnce {
        return true;
    }
    tokio::select! {
        r = pending.send((ack, done_rx)) => r.is_ok(),
        _ = ctx.shutdown.changed() => false,
    }
}

/// Sends each PUBACK, in order, once its message is in the spool. A message whose record was
/// not spooled (its `done` dropped) is never acknowledged: the broker delivers it again.
async fn acknowledge(
    client: AsyncClient,
    mut pending: mpsc::Receiver<(rumqttc::Publish, oneshot::Receiver<()>)>,
    input: String,
) {
    while let Some((p, done)) = pending.recv().await {
        if done.await.is_err() {
            continue;
        }
        if let Err(e) = client.ack(&p).await {
            tracing::debug!(input = %input, error = %e, "mqtt acknowledgement not sent");
            break;
        }
        metrics::counter!("vigil_pipeline_mqtt_acked_total", "input" => input.clone()).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_topics_are_checked() {
        let s = MqttSettings::new(
            "mqtt://127.0.0.1:1883",
            vec!["plant/+/syslog".into()],
            "vigil",
        )
        .expect("valid");
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 1883));
        let s = MqttSettings::new("tcp://u:p@broker.local", vec!["#".into()], "v").expect("valid");
        assert_eq!(s.port, 1883);
        assert_eq!(s.username.as_deref(), Some("u"));
        assert_eq!(s.password.as_deref(), Some("p"));
        assert_eq!(s.url(), "mqtt://broker.local:1883");
        let s = MqttSettings::new("mqtt://[::1]:1884/", vec!["a".into()], "v").expect("v6");
        assert_eq!((s.host.as_str(), s.port), ("::1", 1884));
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:x",
            "mqtt://h/p",
        ] {
            assert!(
                matches!(
                    MqttSettings::new(bad, vec!["a".into()], "v"),
                    Err(MqttConfigError::Url(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            MqttSettings::new("mqtt://h", vec![], "v"),
            Err(MqttConfigError::NoTopics)
        );
        assert_eq!(
            MqttSettings::new("mqtt://h", vec!["a/#/b".into()], "v"),
            Err(MqttConfigError::Topic("a/#/b".into()))
        );
        assert_eq!(
            MqttSettings::new("mqtt://h", vec!["a".into()], ""),
            Err(MqttConfigError::ClientId)
        );
    }
}
