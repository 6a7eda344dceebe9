//! Notifications: e-mail over SMTP and webhooks (Vigil's signed JSON, DingTalk and WeCom
//! group robots), through the store's durable outbox.
//!
//! - [`Notifier::enqueue`] turns one [`Notification`] (subject, markdown body, organization,
//!   what it is about) into deliveries: one e-mail per address among the organization's
//!   responsible person and contacts (when an SMTP relay is configured), and one message per
//!   webhook channel serving the organization. They are stored before anything is sent.
//! - [`Worker`] claims due deliveries with a lease, sends them ([`send::Sender`]), and
//!   records the outcome: sent, retry later (exponential schedule with jitter, see
//!   [`RetryPolicy`]), or failed for good (permanent errors are not retried). A restart
//!   loses nothing: pending deliveries are in the store, and a delivery whose worker died is
//!   claimed again when its lease runs out.
//!
//! Metrics: `vigil_notifications_sent_total{channel}`, `vigil_notifications_failed_total{channel}`
//! (every failed attempt) and `vigil_notifications_enqueued_total{channel}`.
//!
//! No SQL here: everything durable goes through [`vigil_store::Store`].

pub mod config;
pub mod render;
pub mod send;
pub mod sign;

pub use config::{
    NotifyConfig, RetryPolicy, Secret, SmtpConfig, TlsMode, WebhookChannel, WebhookKind,
};
pub use send::{SendError, Sender, SetupError};

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use vigil_model::{OrgId, Scope, Timestamp};
use vigil_store::{Delivery, DeliveryOutcome, NewDelivery, Store, StoreError};

/// The channel name of e-mail deliveries.
pub const EMAIL_CHANNEL: &str = "email";

/// What went wrong while enqueuing.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("organization {0} not found")]
    UnknownOrg(OrgId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message about something, for one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub org_id: OrgId,
    /// `incident`, `warning`, ...
    pub reference_kind: String,
    pub reference_id: String,
    pub subject: String,
    /// Markdown (DingTalk and WeCom render it; e-mails carry it as text).
    pub markdown: String,
}

/// Enqueues notifications; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
    config: Arc<NotifyConfig>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    pub fn new(store: Arc<dyn Store>, config: NotifyConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// The platform's address for links, without a trailing slash.
    pub fn link(&self, path: &str) -> Option<String> {
        self.config
            .base_url
            .as_ref()
            .map(|b| format!("{}{path}", b.trim_end_matches('/')))
    }

    /// Stores the deliveries of `n` (see the crate docs) and wakes the worker. An
    /// organization without e-mail addresses, or with no channel serving it, gets fewer
    /// (possibly no) deliveries; that is not an error.
    pub async fn enqueue(&self, n: Notification) -> Result<Vec<Delivery>, NotifyError> {
        let org = self
            .store
            .get_org(Scope::All, n.org_id)
            .await?
            .ok_or(NotifyError::UnknownOrg(n.org_id))?;
        let now = Timestamp::now();
        let base = |channel: &str, kind: &str, recipient: String| NewDelivery {
            org_id: n.org_id,
            channel: channel.to_string(),
            kind: kind.to_string(),
            recipient,
            reference_kind: n.reference_kind.clone(),
            reference_id: n.reference_id.clone(),
            subject: n.subject.clone(),
            body: n.markdown.clone(),
            max_attempts: self.config.retry.max_attempts,
            not_before: now,
        };
        let mut items = Vec::new();
        if self.config.smtp.is_some() {
            for addr in recipients(&org) {
                items.push(base(EMAIL_CHANNEL, "email", addr));
            }
        }
        for w in self.config.webhooks.iter().filter(|w| w.serves(n.org_id)) {
            items.push(base(&w.name, w.kind.as_str(), w.display_url()));
        }
        if items.is_empty() {
            tracing::info!(org = %n.org_id, reference = %n.reference_id, "no notification channel for the organization");
            return Ok(Vec::new());
        }
        let made = self.store.enqueue_deliveries(items).await?;
        for d in &made {
            metrics::counter!("vigil_notifications_enqueued_total", "channel" => d.spec.channel.clone())
                .increment(1);
        }
        self.wake.notify_one();
        Ok(made)
    }

    /// Stores the deliveries of `n` to the platform's own channels only: the webhook channels
    /// that serve every organization (no `orgs` list). No e-mail goes to the organization's
    /// contacts. Used for escalations (overdue deadlines of 重大 and above); the deliveries
    /// are listed under `n.org_id` like every other. Empty when no channel serves all.
    pub async fn enqueue_platform(&self, n: Notification) -> Result<Vec<Delivery>, NotifyError> {
        let now = Timestamp::now();
        let items: Vec<NewDelivery> = self
            .config
            .webhooks
            .iter()
            .filter(|w| w.orgs.is_none())
            .map(|w| NewDelivery {
                org_id: n.org_id,
                channel: w.name.clone(),
                kind: w.kind.as_str().to_string(),
                recipient: w.display_url(),
                reference_kind: n.reference_kind.clone(),
                reference_id: n.reference_id.clone(),
                subject: n.subject.clone(),
                body: n.markdown.clone(),
                max_attempts: self.config.retry.max_attempts,
                not_before: now,
            })
            .collect();
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let made = self.store.enqueue_deliveries(items).await?;
        for d in &made {
            metrics::counter!("vigil_notifications_enqueued_total", "channel" => d.spec.channel.clone())
                .increment(1);
        }
        self.wake.notify_one();
        Ok(made)
    }

    /// A worker sending what this notifier enqueues.
    pub fn worker(&self) -> Result<Worker, SetupError> {
        Ok(Worker {
            store: self.store.clone(),
            sender: Arc::new(Sender::new((*self.config).clone())?),
            wake: self.wake.clone(),
        })
    }
}

/// The organization's e-mail addresses: the responsible person's and every contact's,
/// each once (compared without case), in that order.
pub fn recipients(org: &vigil_model::Organization) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = std::iter::once(&org.spec.responsible).chain(org.spec.contacts.iter());
    for c in all {
        if let Some(e) = c.email.as_deref().map(str::trim).filter(|e| !e.is_empty())
            && !out.iter().any(|o| o.eq_ignore_ascii_case(e))
        {
            out.push(e.to_string());
        }
    }
    out
}

/// Sends due deliveries.
pub struct Worker {
    store: Arc<dyn Store>,
    sender: Arc<Sender>,
    wake: Arc<Notify>,
}

impl Worker {
    /// Claims what is due now and sends it, concurrently; returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let cfg = self.sender.config();
        let claimed = self
            .store
            .claim_deliveries(Timestamp::now(), cfg.lease, cfg.batch)
            .await?;
        let n = claimed.len();
        let mut tasks = tokio::task::JoinSet::new();
        for d in claimed {
            let (store, sender) = (self.store.clone(), self.sender.clone());
            tasks.spawn(async move { attempt(&*store, &sender, d).await });
        }
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "notification task failed");
            }
        }
        Ok(n)
    }

    /// Runs until `shutdown` completes: sends what is due, then waits for the poll interval
    /// or a new enqueue. Store errors are logged and retried at the next poll.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let poll = self.sender.config().poll;
        loop {
            let busy = match self.run_once().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "notification worker cannot claim deliveries");
                    false
                }
            };
            // A full batch may mean more is due: go again at once.
            let wait = if busy { Duration::ZERO } else { poll };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// One attempt and its recorded outcome.
async fn attempt(store: &dyn Store, sender: &Sender, d: Delivery) {
    let channel = d.spec.channel.clone();
    let outcome = match sender.send(&d).await {
        Ok(()) => {
            metrics::counter!("vigil_notifications_sent_total", "channel" => channel.clone())
                .increment(1);
            tracing::info!(delivery = %d.id, channel = %channel, attempt = d.attempts, "notification sent");
            DeliveryOutcome::Sent
        }
        Err(e) => {
            metrics::counter!("vigil_notifications_failed_total", "channel" => channel.clone())
                .increment(1);
            let last = d.attempts >= d.spec.max_attempts;
            tracing::warn!(delivery = %d.id, channel = %channel, attempt = d.attempts,
                permanent = e.permanent, last, error = %e.message, "notification attempt failed");
            if e.permanent {
                DeliveryOutcome::Failed { error: e.message }
            } else if last {
                DeliveryOutcome::Failed {
                    error: format!("gave up after {} attempts: {}", d.attempts, e.message),
                }
            } else {
                let wait = sender
                    .config()
                    .retry
                    .delay(d.attempts, rand::random::<f64>());
                let at = Timestamp::now()
                    .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                    .unwrap_or_else(|_| Timestamp::now());
                DeliveryOutcome::Retry {
                    at,
                    error: e.message,
                }
            }
        }
    };
    match store.finish_delivery(d.id, d.attempts, outcome).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::warn!(delivery = %d.id, "notification lease lost before the outcome was recorded")
        }
        Err(e) => {
            tracing::error!(delivery = %d.id, error = %e, "cannot record the notification outcome")
        }
    }
}
