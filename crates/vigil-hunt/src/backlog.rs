//! Events parsed while the rules compile: reading files does not wait for the rule set.
//!
//! A hunt starts compiling its rule set on a thread of its own and reads files at the same
//! time. Until the rules are ready, each worker keeps the events it parses (as JSON values,
//! routed and time-filtered) with the file they came from; a file read to its end is queued
//! here as a [`Batch`] and its `FileDone` waits until the batch is evaluated. Once the rule
//! set is compiled every thread takes queued batches, and events parsed from then on are
//! evaluated as they are read.
//!
//! Memory is bounded: the held events are counted in (estimated) bytes, and a worker that
//! pushes the count past [`Backlog`]'s cap waits for the rules before it parses more. So a
//! hunt holds at most the cap, plus one event per worker, whatever the input size.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use jiff::Timestamp;
use serde_json::Value;
use vigil_sigma::LogSource;

use crate::FileStats;
use crate::correlate::SetKind;

/// The log source an event is evaluated under.
#[derive(Debug)]
pub(crate) enum EventSource {
    /// Product `windows` (EVTX records and events that carry a `Channel`).
    Windows,
    /// The hunt's default for flat events ([`crate::HuntOptions::logsource`]).
    Default,
    /// The event's own `logsource` object.
    Own(LogSource),
}

/// An event read and routed, waiting for its rule set.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub value: Value,
    pub set: SetKind,
    pub source: EventSource,
    pub time: Option<Timestamp>,
    pub record: u64,
    /// Estimated memory of `value`, in bytes.
    pub size: usize,
}

/// The held events of one file read to its end, and its counts so far.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Index of the file in the hunt's inputs.
    pub index: u32,
    pub stats: FileStats,
    pub events: Vec<Parsed>,
    pub bytes: usize,
}

#[derive(Debug, Default)]
struct State {
    /// The rule set being compiled is ready (or its compilation ended some other way).
    ready: bool,
    queue: VecDeque<Batch>,
}

/// Shared by the workers and the compiling thread of one hunt.
#[derive(Debug)]
pub(crate) struct Backlog {
    /// The rule set compiled in the background, if any.
    compiling: Option<SetKind>,
    cap: usize,
    /// Estimated bytes of the events held (queued or kept by a worker for its file).
    held: AtomicUsize,
    /// The largest `held` reached, for tests and statistics.
    peak: AtomicUsize,
    /// Mirror of `State::ready`, read without the lock on every event.
    ready: AtomicBool,
    state: Mutex<State>,
    cond: Condvar,
}

impl Backlog {
    /// A backlog for a hunt that compiles `compiling` in the background (`None`: every rule
    /// set is compiled on first need, nothing is held), holding at most `cap` bytes.
    pub fn new(compiling: Option<SetKind>, cap: usize) -> Backlog {
        Backlog {
            compiling,
            cap,
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            ready: AtomicBool::new(compiling.is_none()),
            state: Mutex::new(State {
                ready: compiling.is_none(),
                queue: VecDeque::new(),
            }),
            cond: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether events for `set` must be held: it is the set compiled in the background and
    /// that compilation has not ended.
    pub fn must_hold(&self, set: SetKind) -> bool {
        self.compiling == Some(set) && !self.ready.load(Ordering::Acquire)
    }

    /// Counts `size` more bytes held; returns whether the cap is now passed (the caller
    /// then waits for the rules with [`Backlog::wait_ready`]).
    pub fn hold(&self, size: usize) -> bool {
        let now = self.held.fetch_add(size, Ordering::AcqRel) + size;
        self.peak.fetch_max(now, Ordering::AcqRel);
        now > self.cap
    }

    /// Counts `size` bytes no longer held.
    pub fn release(&self, size: usize) {
        self.held.fetch_sub(size, Ordering::AcqRel);
    }

    /// Blocks until the background compilation has ended.
    pub fn wait_ready(&self) {
        let mut st = self.lock();
        while !st.ready {
            st = self
                .cond
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Queues a file's held events until the rules are ready; gives the batch back when they
    /// already are (the caller evaluates it then).
    pub fn queue(&self, batch: Batch) -> Result<(), Batch> {
        let mut st = self.lock();
        if st.ready {
            return Err(batch);
        }
        st.queue.push_back(batch);
        Ok(())
    }

    /// Marks the background compilation ended (its rule set is now in its `OnceLock`) and
    /// wakes the waiting workers. Batches queued before stay for [`Backlog::pop`].
    pub fn set_ready(&self) {
        let mut st = self.lock();
        st.ready = true;
        self.ready.store(true, Ordering::Release);
        drop(st);
        self.cond.notify_all();
    }

    /// A queued batch to evaluate, once the rules are ready; `None` when none is left.
    /// Nothing is queued after the rules are ready, so `None` means the queue is done.
    pub fn pop(&self) -> Option<Batch> {
        let mut st = self.lock();
        debug_assert!(
            st.ready,
            "batches are evaluated only once the rules are ready"
        );
        st.queue.pop_front()
    }

    /// The most bytes held at once in this hunt.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }
}

/// Rough memory of a JSON value: its strings and keys, plus a word or so per node and the
/// map index. Used only to bound the backlog, so it need not be exact, only proportional.
pub(crate) fn approx_size(v: &Value) -> usize {
    const NODE: usize = 32;
    match v {
        Value::String(s) => NODE + s.len(),
        Value::Array(a) => NODE + a.iter().map(approx_size).sum::<usize>(),
        Value::Object(m) => {
            NODE + m
                .iter()
                .map(|(k, v)| k.len() + NODE + approx_size(v))
                .sum::<usize>()
        }
        _ => NODE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn holding_past_the_cap_is_reported_and_the_peak_kept() {
        let b = Backlog::new(Some(SetKind::Evtx), 100);
        assert!(b.must_hold(SetKind::Evtx));
        assert!(!b.must_hold(SetKind::Native));
        assert!(!b.hold(60));
        assert!(b.hold(60));
        b.release(120);
        assert!(!b.hold(10));
        assert_eq!(b.peak(), 120);
    }

    #[test]
    fn batches_queue_until_ready_then_are_given_back() {
        let b = Backlog::new(Some(SetKind::Evtx), 100);
        let batch = |index| Batch {
            index,
            stats: FileStats::default(),
            events: Vec::new(),
            bytes: 0,
        };
        assert!(b.queue(batch(0)).is_ok());
        assert!(b.queue(batch(1)).is_ok());
        b.set_ready();
        assert!(!b.must_hold(SetKind::Evtx));
        assert_eq!(b.queue(batch(2)).map_err(|b| b.index), Err(2));
        assert_eq!(b.pop().map(|b| b.index), Some(0));
        assert_eq!(b.pop().map(|b| b.index), Some(1));
        assert!(b.pop().is_none());
    }

    #[test]
    fn a_waiting_worker_wakes_when_the_rules_are_ready() {
        let b = Backlog::new(Some(SetKind::Native), 0);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                b.wait_ready();
                true
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            b.set_ready();
            assert!(waiter.join().unwrap_or(false));
        });
    }

    #[test]
    fn without_a_background_compile_nothing_is_held() {
        let b = Backlog::new(None, 0);
        assert!(!b.must_hold(SetKind::Evtx));
        assert!(!b.must_hold(SetKind::Native));
        b.wait_ready();
    }

    #[test]
    fn sizes_grow_with_the_content() {
        let small = approx_size(&json!({"a": "x"}));
        let big = approx_size(&json!({"a": "x".repeat(1000), "b": [1, 2, {"c": "d"}]}));
        assert!(small < 100, "{small}");
        assert!(big > 1000, "{big}");
    }
}
