//! The two ways in: one writer thread with group commit, and a pool of read connections.
//!
//! SQLite allows one writer at a time. Rather than let many connections queue on the file
//! lock (and commit, fsync included, one by one), one dedicated thread owns the only write
//! connection. Callers send it jobs (closures over a `&Connection`) on a bounded channel and
//! await the answer on a oneshot. The thread takes a job, drains whatever else is already
//! queued (up to [`MAX_JOBS_PER_COMMIT`]), and runs them all in one transaction, each inside
//! its own savepoint so a failing job is rolled back alone. Only after `COMMIT` returns does it
//! answer, so `Ok` means committed. Under load many small writes share one commit.
//!
//! Reads go to a small fixed pool of read-only connections, used from tokio's blocking
//! threads (`spawn_blocking`), so a slow query never stalls the async runtime. In WAL mode
//! readers never block the writer nor each other, and see every transaction committed before
//! they start.

use crate::{Result, StoreError};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Most jobs committed in one transaction.
pub(crate) const MAX_JOBS_PER_COMMIT: usize = 256;
/// Jobs that may wait for the writer before senders wait too (back-pressure).
pub(crate) const QUEUE_DEPTH: usize = 1_024;

/// Sends a job's result once its transaction's fate is known: `None` when it committed,
/// `Some(error)` when the commit failed.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// Runs against the write connection inside the group transaction; says whether it
/// succeeded (its savepoint is released) or failed (rolled back).
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// The handle async code uses to submit writes.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread, which owns `conn` until every `Writer` handle is gone.
    pub(crate) fn start(conn: Connection) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("vigil-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Open(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { jobs: tx })
    }

    /// Runs `f` on the writer thread, inside a transaction, and returns its result once the
    /// transaction committed.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let out = f(conn);
            let ok = out.is_ok();
            let reply: Reply = Box::new(move |commit_error| {
                let answer = match (out, commit_error) {
                    (Ok(v), None) => Ok(v),
                    (Ok(_), Some(e)) => Err(StoreError::Backend(format!("commit failed: {e}"))),
                    (Err(e), _) => Err(e),
                };
                // The caller may have gone away (request cancelled); nothing to tell then.
                let _ = tx.send(answer);
            });
            (ok, reply)
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Backend("sqlite writer thread has stopped".into()))?;
        rx.await.map_err(|_| {
            StoreError::Backend("sqlite writer dropped the job (it panicked or stopped)".into())
        })?
    }
}

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_JOBS_PER_COMMIT);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_JOBS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_group(&conn, &mut batch);
    }
    // Every sender is gone: the store was dropped. Closing the connection checkpoints the WAL.
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the sqlite write connection failed");
    }
}

/// Runs a group of jobs in one transaction and answers each.
fn commit_group(conn: &Connection, batch: &mut Vec<Job>) {
    if batch.len() == 1
        && let Some(job) = batch.pop()
    {
        commit_single(conn, job);
        return;
    }
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    let mut jobs = batch.drain(..);
    'group: loop {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Run nothing outside a transaction. Dropping a job drops its oneshot sender,
            // so each caller gets an error instead of an answer.
            tracing::error!(error = %e, "cannot begin a sqlite write transaction");
            return;
        }
        for job in jobs.by_ref() {
            if let Err(e) = savepoint(conn, "SAVEPOINT job") {
                tracing::error!(error = %e, "sqlite savepoint failed");
                continue;
            }
            match catch_unwind(AssertUnwindSafe(|| job(conn))) {
                Ok((true, reply)) => {
                    if let Err(e) = savepoint(conn, "RELEASE job") {
                        tracing::error!(error = %e, "sqlite savepoint release failed");
                    }
                    replies.push(reply);
                }
                Ok((false, reply)) => {
                    rollback_job(conn);
                    replies.push(reply);
                }
                Err(_) => {
                    // The job panicked; its reply went with it, so its caller gets an error.
                    tracing::error!("sqlite write job panicked; its changes were rolled back");
                    rollback_job(conn);
                }
            }
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back by itself (disk full, I/O
                // error): nothing of this group so far is stored. Say so, and go on with
                // the remaining jobs in a new transaction.
                let lost = StoreError::Backend("the write transaction was rolled back".into());
                for reply in replies.drain(..) {
                    reply(Some(&lost));
                }
                continue 'group;
            }
        }
        break;
    }
    let commit_error = commit(conn);
    for reply in replies {
        reply(commit_error.as_ref());
    }
}

/// One job alone (the usual case for big event batches): no savepoint, whose sub-journal
/// would copy every page the job touches; a failure rolls back the whole transaction.
fn commit_single(conn: &Connection, job: Job) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "cannot begin a sqlite write transaction");
        return;
    }
    match catch_unwind(AssertUnwindSafe(|| job(conn))) {
        Ok((true, reply)) => {
            let commit_error = commit(conn);
            reply(commit_error.as_ref());
        }
        Ok((false, reply)) => {
            rollback(conn);
            // The job's own error is its answer.
            reply(None);
        }
        Err(_) => {
            tracing::error!("sqlite write job panicked; its changes were rolled back");
            rollback(conn);
        }
    }
}

fn commit(conn: &Connection) -> Option<StoreError> {
    let err = conn
        .execute_batch("COMMIT")
        .err()
        .map(|e| StoreError::Backend(e.to_string()));
    if let Some(e) = &err {
        tracing::error!(error = %e, "sqlite commit failed");
        rollback(conn);
    }
    err
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "sqlite rollback failed");
    }
}

fn savepoint(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn rollback_job(conn: &Connection) {
    if let Err(e) = savepoint(conn, "ROLLBACK TO job").and_then(|()| savepoint(conn, "RELEASE job"))
    {
        tracing::error!(error = %e, "sqlite savepoint rollback failed");
    }
}

/// A fixed set of read-only connections shared by blocking threads.
pub(crate) struct ReadPool {
    idle: Mutex<Vec<Connection>>,
    available: Condvar,
}

impl ReadPool {
    pub(crate) fn new(conns: Vec<Connection>) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(conns),
            available: Condvar::new(),
        })
    }

    /// Runs `f` with a connection, waiting for one to be free. Blocking: call it only from a
    /// blocking thread.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(c) = idle.pop() {
                    break c;
                }
                idle = self.available.wait(idle).unwrap_or_else(|p| p.into_inner());
            }
        };
        let lease = Lease {
            pool: self,
            conn: Some(conn),
        };
        match &lease.conn {
            Some(c) => f(c),
            None => Err(StoreError::Backend("read connection lost".into())),
        }
    }
}

/// Gives the connection back to the pool even when the query panicked.
struct Lease<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(c);
            self.pool.available.notify_one();
        }
    }
}

/// Runs a read on a blocking thread with a pooled connection.
pub(crate) async fn read<T, F>(pool: &Arc<ReadPool>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    let pool = Arc::clone(pool);
    tokio::task::spawn_blocking(move || pool.with(f))
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
}

/// Copies committed pages from the WAL into the database file on a thread of its own, so
/// the writer thread does not spend its time checkpointing (that would be a quarter of the
/// writer's time under a steady event load). A `PASSIVE` checkpoint never blocks the writer
/// or readers. The writer keeps a high `wal_autocheckpoint` as a safety net in case this
/// thread falls behind. The same thread runs `PRAGMA optimize` every ten minutes. Dropping the handle
/// stops the thread.
/// How often the checkpoint thread refreshes planner statistics (`PRAGMA optimize`, which does
/// nothing when they are still good).
const OPTIMIZE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

pub(crate) struct Checkpointer {
    _stop: std::sync::mpsc::Sender<()>,
}

impl Checkpointer {
    pub(crate) fn start(conn: Connection, every: std::time::Duration) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("vigil-sqlite-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                let mut last_optimize = std::time::Instant::now();
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    if last_optimize.elapsed() >= OPTIMIZE_EVERY {
                        // Refreshes the planner's statistics where they are missing or
                        // stale: with them SQLite picks a selective field index (an IP, a
                        // hash) over scanning the organization's events newest first. Bounded
                        // by analysis_limit, so it stays quick; 0x10000 checks every table,
                        // not only those this connection queried (none).
                        if let Err(e) = conn.execute_batch(
                            "PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002;",
                        ) {
                            tracing::warn!(error = %e, "sqlite optimize failed");
                        }
                        last_optimize = std::time::Instant::now();
                    }
                    let r = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    });
                    match r {
                        Ok((log, done)) => {
                            tracing::trace!(
                                wal_frames = log,
                                checkpointed = done,
                                "wal checkpoint"
                            );
                        }
                        Err(e) => tracing::warn!(error = %e, "sqlite wal checkpoint failed"),
                    }
                }
            })
            .map_err(|e| StoreError::Open(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self { _stop: tx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> Writer {
        let conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
            .expect("table");
        Writer::start(conn).expect("writer")
    }

    async fn count(w: &Writer) -> i64 {
        w.run(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .expect("count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_rolled_back_alone_within_a_group() {
        let w = Arc::new(writer());
        // Keep the writer busy so the following jobs queue up and commit as one group.
        let busy = {
            let w = Arc::clone(&w);
            tokio::spawn(async move {
                w.run(|_| {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut jobs = Vec::new();
        for k in 0..50i64 {
            let w = Arc::clone(&w);
            jobs.push(tokio::spawn(async move {
                w.run(move |c| {
                    c.execute("INSERT INTO t (x) VALUES (?1)", [k])?;
                    if k % 10 == 0 {
                        // A duplicate: this job fails after a successful insert.
                        c.execute("INSERT INTO t (x) VALUES (?1)", [k])?;
                    }
                    Ok(k)
                })
                .await
            }));
        }
        assert!(busy.await.expect("join").is_ok());
        for (k, j) in jobs.into_iter().enumerate() {
            let r = j.await.expect("join");
            assert_eq!(r.is_ok(), k % 10 != 0, "job {k}: {r:?}");
            if k % 10 == 0 {
                assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
            }
        }
        assert_eq!(count(&w).await, 45);
        let zero: i64 = w
            .run(|c| Ok(c.query_row("SELECT count(*) FROM t WHERE x % 10 = 0", [], |r| r.get(0))?))
            .await
            .expect("query");
        assert_eq!(zero, 0);
    }

    #[tokio::test]
    async fn a_single_failing_or_panicking_job_leaves_nothing_and_the_writer_goes_on() {
        let w = writer();
        let r: Result<()> = w
            .run(|c| {
                c.execute("INSERT INTO t (x) VALUES (1)", [])?;
                Err(StoreError::Conflict("no".into()))
            })
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))));
        assert_eq!(count(&w).await, 0);
        #[allow(clippy::panic)]
        let r: Result<()> = w
            .run(|c| {
                c.execute("INSERT INTO t (x) VALUES (2)", [])?;
                panic!("job bug")
            })
            .await;
        assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
        w.run(|c| Ok(c.execute("INSERT INTO t (x) VALUES (3)", [])?))
            .await
            .expect("insert after panic");
        assert_eq!(count(&w).await, 1);
    }
}
