//! The SM3 hash chain of the audit log and the diagnosis of a broken chain.
//!
//! Each record stores `prev_hash` (the previous record's `hash`) and `hash` =
//! SM3(prev_hash ‖ 0x1e ‖ canonical bytes). [`audit_chain_report`] walks records in the
//! order the store holds them and names each problem it finds:
//!
//! | finding | what the records show |
//! |---|---|
//! | altered | the content no longer matches its own hash; or a record was re-hashed after a change, so the next record's link no longer matches it |
//! | removed | the link skips a gap in the sequence numbers (or, with a checkpoint, the log ends before the checkpointed record) |
//! | inserted | a record sits between two records that link to each other directly |
//! | reordered | a record links to a record that comes later in the list, or its sequence number goes backwards |
//!
//! After a finding the walk resynchronises on the stored hash, so one tampered record is
//! reported once instead of breaking every check after it. Truncation of the newest records
//! leaves no trace in the chain itself: only a signed [`crate::Checkpoint`] reveals it
//! ([`check_against_checkpoint`]).

use crate::checkpoint::Checkpoint;
use sm3::{Digest, Sm3};
use std::collections::{HashMap, HashSet};
use vigil_model::AuditRecord;

/// Hash of the chain's start, before the first record.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain hash of a record: SM3(prev_hash || 0x1e || canonical bytes).
pub fn audit_hash(prev_hash: &str, record: &AuditRecord) -> String {
    let mut h = Sm3::new();
    h.update(prev_hash.as_bytes());
    h.update([0x1e]);
    h.update(record.canonical_bytes());
    hex::encode(h.finalize())
}

/// What kind of tampering a finding points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainIssueKind {
    Altered,
    Removed,
    Inserted,
    Reordered,
    /// A break whose cause the records do not reveal.
    Broken,
}

impl ChainIssueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Altered => "altered",
            Self::Removed => "removed",
            Self::Inserted => "inserted",
            Self::Reordered => "reordered",
            Self::Broken => "broken",
        }
    }
}

impl std::fmt::Display for ChainIssueKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: the record concerned (for `Removed`, the first missing sequence number) and
/// a sentence saying what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainIssue {
    pub kind: ChainIssueKind,
    pub seq: i64,
    pub detail: String,
}

/// The result of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records examined.
    pub checked: usize,
    /// The stored hash of the last record (the start hash when there were none): where the
    /// next page continues.
    pub last_hash: String,
    pub last_seq: Option<i64>,
    pub issues: Vec<ChainIssue>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at record {seq}: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
    pub kind: ChainIssueKind,
}

/// Verifies consecutive records, oldest first. `prev` is the hash before the first one
/// ([`AUDIT_GENESIS`] when starting at the beginning). Returns the last hash, or the first
/// finding of [`audit_chain_report`]; its `reason` starts with the kind (`altered: ...`).
pub fn verify_audit_chain<'a>(
    prev: &str,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<String, ChainBreak> {
    let report = audit_chain_report(prev, records);
    match report.issues.into_iter().next() {
        None => Ok(report.last_hash),
        Some(i) => Err(ChainBreak {
            seq: i.seq,
            reason: format!("{}: {}", i.kind, i.detail),
            kind: i.kind,
        }),
    }
}

/// Walks the records in stored order and reports every finding (see the module docs).
pub fn audit_chain_report<'a>(
    start: &str,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> ChainReport {
    let recs: Vec<&AuditRecord> = records.into_iter().collect();
    // Positions by stored hash, and the set of hashes some record links to.
    let by_hash: HashMap<&str, usize> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.hash.as_str(), i))
        .collect();
    let linked: HashSet<&str> = recs.iter().map(|r| r.prev_hash.as_str()).collect();

    let mut issues: Vec<ChainIssue> = Vec::new();
    let mut flagged: HashSet<usize> = HashSet::new();
    let mut max_seq: Option<i64> = None;
    fn push(issues: &mut Vec<ChainIssue>, kind: ChainIssueKind, seq: i64, detail: String) {
        issues.push(ChainIssue { kind, seq, detail });
    }

    for (i, r) in recs.iter().enumerate() {
        let pred = i.checked_sub(1).and_then(|p| recs.get(p));
        let expected_prev = pred.map_or(start, |p| p.hash.as_str());
        let content_ok = audit_hash(&r.prev_hash, r) == r.hash;
        let backwards = max_seq.is_some_and(|m| r.seq <= m);

        if r.prev_hash == expected_prev {
            if !content_ok {
                push(
                    &mut issues,
                    ChainIssueKind::Altered,
                    r.seq,
                    "content does not match its hash".into(),
                );
                flagged.insert(i);
            } else if let Some(p) = pred
                && r.seq != p.seq + 1
            {
                push(
                    &mut issues,
                    ChainIssueKind::Broken,
                    r.seq,
                    format!(
                        "links to record {} but its sequence number should be {}",
                        p.seq,
                        p.seq + 1
                    ),
                );
            }
        } else if let Some(pp) = i.checked_sub(2).and_then(|j| recs.get(j))
            && let Some(p) = pred
            && r.prev_hash == pp.hash
            && !linked.contains(p.hash.as_str())
        {
            // r links straight to the record two places back: the one between was slipped in.
            if !flagged.contains(&(i - 1)) {
                push(
                    &mut issues,
                    ChainIssueKind::Inserted,
                    p.seq,
                    format!(
                        "sits between records {} and {}, which link to each other directly",
                        pp.seq, r.seq
                    ),
                );
                flagged.insert(i - 1);
            }
        } else if backwards {
            push(
                &mut issues,
                ChainIssueKind::Reordered,
                r.seq,
                format!(
                    "comes after record {} although its sequence number is lower",
                    max_seq.unwrap_or_default()
                ),
            );
            flagged.insert(i);
        } else if let Some(&j) = by_hash.get(r.prev_hash.as_str()) {
            if j > i && !flagged.contains(&i) {
                let target = recs.get(j).map_or(0, |t| t.seq);
                push(
                    &mut issues,
                    ChainIssueKind::Reordered,
                    r.seq,
                    format!("belongs after record {target}, which comes later in the log"),
                );
                flagged.insert(i);
            }
            // j < i - 1: the predecessor it links to is earlier; the records in between have
            // been reported as moved, so this record is where the order resumes.
        } else if !content_ok {
            push(
                &mut issues,
                ChainIssueKind::Altered,
                r.seq,
                "content and previous-hash link do not match".into(),
            );
            flagged.insert(i);
        } else if let Some(p) = pred.filter(|p| r.seq > p.seq + 1) {
            let (from, to) = (p.seq + 1, r.seq - 1);
            let what = if from == to {
                format!("record {from} is missing")
            } else {
                format!("records {from} to {to} are missing")
            };
            push(&mut issues, ChainIssueKind::Removed, from, what);
        } else if let Some(p) = pred {
            if !flagged.contains(&(i - 1)) {
                push(
                    &mut issues,
                    ChainIssueKind::Altered,
                    p.seq,
                    format!(
                        "was changed and re-hashed: record {} still links to its original hash",
                        r.seq
                    ),
                );
                flagged.insert(i - 1);
            }
        } else {
            let kind = if start == AUDIT_GENESIS && r.seq > 1 {
                ChainIssueKind::Removed
            } else {
                ChainIssueKind::Broken
            };
            let detail = if kind == ChainIssueKind::Removed {
                format!("records before {} are missing", r.seq)
            } else {
                "does not link to the starting hash".into()
            };
            let seq = if kind == ChainIssueKind::Removed {
                1
            } else {
                r.seq
            };
            push(&mut issues, kind, seq, detail);
        }
        max_seq = Some(max_seq.map_or(r.seq, |m| m.max(r.seq)));
    }

    ChainReport {
        checked: recs.len(),
        last_hash: recs
            .last()
            .map_or_else(|| start.to_string(), |r| r.hash.clone()),
        last_seq: recs.last().map(|r| r.seq),
        issues,
    }
}

/// Compares the records with a checkpoint (whose signature the caller verified with
/// [`crate::verify_checkpoint`]): the checkpointed record must still be there with the
/// checkpointed hash. Finds truncation and rewriting of everything up to the checkpoint.
pub fn check_against_checkpoint<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    checkpoint: &Checkpoint,
) -> Option<ChainIssue> {
    let mut last: Option<i64> = None;
    for r in records {
        if r.seq == checkpoint.seq {
            return (r.hash != checkpoint.hash).then(|| ChainIssue {
                kind: ChainIssueKind::Altered,
                seq: r.seq,
                detail: "hash differs from the signed checkpoint: the log up to this record \
                         was rewritten"
                    .into(),
            });
        }
        last = Some(last.map_or(r.seq, |l: i64| l.max(r.seq)));
    }
    let from = last.map_or(1, |l| l + 1);
    Some(ChainIssue {
        kind: ChainIssueKind::Removed,
        seq: from,
        detail: format!(
            "the signed checkpoint covers record {} but the log ends at {}",
            checkpoint.seq,
            last.map_or_else(|| "no record".to_string(), |l| format!("record {l}"))
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{AuditOutcome, NewAuditRecord, Timestamp};

    fn record(seq: i64, prev: &str, actor: &str) -> AuditRecord {
        let mut r = AuditRecord {
            seq,
            at: Timestamp::from_second(seq).expect("ts"),
            record: NewAuditRecord {
                actor: actor.into(),
                action: "org.create".into(),
                object: format!("organization/{seq}"),
                outcome: AuditOutcome::Success,
                org_id: None,
                detail: String::new(),
            },
            prev_hash: prev.to_string(),
            hash: String::new(),
        };
        r.hash = audit_hash(prev, &r);
        r
    }

    pub(crate) fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = AUDIT_GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let r = record(seq, &prev, "user:admin");
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    fn findings(recs: &[AuditRecord]) -> Vec<(ChainIssueKind, i64)> {
        audit_chain_report(AUDIT_GENESIS, recs)
            .issues
            .iter()
            .map(|i| (i.kind, i.seq))
            .collect()
    }

    use ChainIssueKind::*;

    #[test]
    fn intact_chain_passes_and_pages_continue() {
        let good = chain(6);
        let report = audit_chain_report(AUDIT_GENESIS, &good);
        assert!(report.is_intact());
        assert_eq!(report.checked, 6);
        assert_eq!(report.last_seq, Some(6));
        let first = verify_audit_chain(AUDIT_GENESIS, &good[..3]).expect("page 1");
        assert_eq!(
            verify_audit_chain(&first, &good[3..]).ok(),
            Some(good[5].hash.clone())
        );
        assert_eq!(
            verify_audit_chain(AUDIT_GENESIS, &[]).ok().as_deref(),
            Some(AUDIT_GENESIS)
        );
    }

    #[test]
    fn an_altered_record_is_named_once() {
        let mut recs = chain(6);
        recs[2].record.actor = "user:mallory".into();
        assert_eq!(findings(&recs), vec![(Altered, 3)]);
        let err = verify_audit_chain(AUDIT_GENESIS, &recs).expect_err("altered");
        assert_eq!((err.seq, err.kind), (3, Altered));
        assert!(err.reason.starts_with("altered"), "{err}");
    }

    #[test]
    fn an_altered_and_rehashed_record_is_named() {
        let mut recs = chain(6);
        recs[2].record.detail = "nothing to see".into();
        recs[2].hash = audit_hash(&recs[2].prev_hash, &recs[2]);
        assert_eq!(findings(&recs), vec![(Altered, 3)]);
    }

    #[test]
    fn the_last_record_altered_and_rehashed_needs_a_checkpoint() {
        let mut recs = chain(4);
        let cp_hash = recs[3].hash.clone();
        recs[3].record.detail = "rewritten".into();
        recs[3].hash = audit_hash(&recs[3].prev_hash, &recs[3]);
        assert!(findings(&recs).is_empty());
        let cp = Checkpoint::unsigned(4, &cp_hash);
        let issue = check_against_checkpoint(&recs, &cp).expect("finding");
        assert_eq!((issue.kind, issue.seq), (Altered, 4));
    }

    #[test]
    fn removed_records_are_named_with_their_range() {
        let mut one = chain(6);
        one.remove(2);
        assert_eq!(findings(&one), vec![(Removed, 3)]);
        let err = verify_audit_chain(AUDIT_GENESIS, &one).expect_err("removed");
        assert!(err.reason.contains("record 3 is missing"), "{err}");

        let mut two = chain(8);
        two.drain(2..4);
        let report = audit_chain_report(AUDIT_GENESIS, &two);
        assert_eq!(report.issues.len(), 1);
        assert_eq!((report.issues[0].kind, report.issues[0].seq), (Removed, 3));
        assert!(report.issues[0].detail.contains("3 to 4"));

        let mut head = chain(4);
        head.remove(0);
        assert_eq!(findings(&head), vec![(Removed, 1)]);
    }

    #[test]
    fn truncation_of_the_newest_records_is_found_by_the_checkpoint() {
        let recs = chain(6);
        let cp = Checkpoint::unsigned(6, &recs[5].hash);
        assert_eq!(check_against_checkpoint(&recs, &cp), None);
        let truncated = &recs[..4];
        assert!(findings(truncated).is_empty());
        let issue = check_against_checkpoint(truncated, &cp).expect("finding");
        assert_eq!((issue.kind, issue.seq), (Removed, 5));
        assert!(
            issue.detail.contains("ends at record 4"),
            "{}",
            issue.detail
        );
        let none = check_against_checkpoint(&[], &cp).expect("finding");
        assert_eq!((none.kind, none.seq), (Removed, 1));
    }

    #[test]
    fn an_inserted_record_is_named() {
        let mut recs = chain(6);
        // A forged record that links correctly to record 3; record 4 still links to 3.
        let forged = record(4, &recs[2].hash.clone(), "user:mallory");
        recs.insert(3, forged);
        assert_eq!(findings(&recs), vec![(Inserted, 4)]);
        let err = verify_audit_chain(AUDIT_GENESIS, &recs).expect_err("inserted");
        assert_eq!(err.kind, Inserted);
        assert!(err.reason.contains("between records 3 and 4"), "{err}");
    }

    #[test]
    fn reordered_records_are_named() {
        let mut swapped = chain(6);
        swapped.swap(2, 3);
        assert_eq!(findings(&swapped), vec![(Reordered, 4), (Reordered, 3)]);

        // Moved far: record 2 now comes last.
        let mut moved = chain(6);
        let r2 = moved.remove(1);
        moved.push(r2);
        let f = findings(&moved);
        assert_eq!(f.first(), Some(&(Reordered, 3)), "{f:?}");
        assert!(f.contains(&(Reordered, 2)), "{f:?}");
        assert!(
            f.iter().all(|(k, _)| *k == Reordered),
            "only reordering is reported: {f:?}"
        );
    }

    #[test]
    fn a_chain_not_starting_at_the_given_hash_is_broken() {
        let recs = chain(4);
        let report = audit_chain_report(&"1".repeat(64), &recs[1..]);
        assert_eq!(report.issues.len(), 1);
        assert_eq!((report.issues[0].kind, report.issues[0].seq), (Broken, 2));
    }
}
