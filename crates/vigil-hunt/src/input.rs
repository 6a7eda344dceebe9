//! Finding the files to read: event files (EVTX, NDJSON/JSON) and Sigma rule files, from
//! files and directories given on the command line.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::InputProblem;

/// What an event file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A Windows XML event log.
    Evtx,
    /// JSON events: one object per line (NDJSON), or one array or object for the file.
    Json,
}

/// One event file to hunt in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub kind: Kind,
    /// Size in bytes, for progress.
    pub size: u64,
}

/// The magic bytes an EVTX file starts with.
const EVTX_MAGIC: &[u8] = b"ElfFile\0";

fn kind_by_extension(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "evtx" => Some(Kind::Evtx),
        "json" | "jsonl" | "ndjson" => Some(Kind::Json),
        _ => None,
    }
}

/// Looks at the first bytes of a file named explicitly whose extension says nothing.
fn sniff(path: &Path) -> Option<Kind> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    if head[..n] == *EVTX_MAGIC {
        return Some(Kind::Evtx);
    }
    match head[..n].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => Some(Kind::Json),
        _ => None,
    }
}

/// Walks `paths`: files are taken as they are (their kind from the extension, else from
/// their first bytes), directories recursively (only `.evtx`, `.json`, `.jsonl` and
/// `.ndjson` files). The result is sorted by path so runs are reproducible; what cannot be
/// read is reported, never fatal.
pub fn collect_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<InputProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(
                p,
                &mut |f, size| {
                    if let Some(kind) = kind_by_extension(f) {
                        out.push(Input {
                            path: f.to_path_buf(),
                            kind,
                            size,
                        });
                    }
                },
                &mut problems,
            ),
            Ok(m) => match kind_by_extension(p).or_else(|| sniff(p)) {
                Some(kind) => out.push(Input {
                    path: p.clone(),
                    kind,
                    size: m.len(),
                }),
                None => problems.push(InputProblem::new(
                    p,
                    None,
                    "not an EVTX or JSON event file (by extension and content)",
                )),
            },
            Err(e) => problems.push(InputProblem::new(p, None, format!("cannot read: {e}"))),
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    (out, problems)
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, u64), problems: &mut Vec<InputProblem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(InputProblem::new(dir, None, format!("cannot list: {e}")));
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for c in children {
        // `metadata` follows symbolic links; a link loop shows up as an error, not a hang,
        // because a directory reached through a link is not followed.
        match std::fs::symlink_metadata(&c) {
            Ok(m) if m.is_dir() => walk(&c, f, problems),
            Ok(m) if m.is_file() => f(&c, m.len()),
            Ok(_) => match std::fs::metadata(&c) {
                Ok(m) if m.is_file() => f(&c, m.len()),
                _ => {}
            },
            Err(e) => problems.push(InputProblem::new(&c, None, format!("cannot read: {e}"))),
        }
    }
}

/// Reads the Sigma rule files (`.yml`, `.yaml`) under `paths` as `(path, text)` pairs, sorted
/// by path. Unreadable files are reported.
pub fn read_rules(paths: &[PathBuf]) -> (Vec<(String, String)>, Vec<InputProblem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let is_rule = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
    };
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(
                p,
                &mut |f, _| {
                    if is_rule(f) {
                        files.push(f.to_path_buf());
                    }
                },
                &mut problems,
            ),
            Ok(_) => files.push(p.clone()),
            Err(e) => problems.push(InputProblem::new(p, None, format!("cannot read: {e}"))),
        }
    }
    files.sort();
    files.dedup();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        match std::fs::read(&f) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => out.push((f.display().to_string(), text)),
                Err(_) => problems.push(InputProblem::new(&f, None, "rule file is not UTF-8")),
            },
            Err(e) => problems.push(InputProblem::new(&f, None, format!("cannot read: {e}"))),
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_walked_by_extension_and_files_sniffed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        std::fs::write(sub.join("a.ndjson"), "{}\n").expect("write");
        std::fs::write(sub.join("b.EVTX"), b"ElfFile\0").expect("write");
        std::fs::write(sub.join("notes.txt"), "x").expect("write");
        let odd = dir.path().join("events.log");
        std::fs::write(&odd, "  {\"a\":1}\n").expect("write");
        let text = dir.path().join("plain.log");
        std::fs::write(&text, "hello").expect("write");
        let (inputs, problems) = collect_inputs(&[
            sub.clone(),
            odd.clone(),
            text.clone(),
            dir.path().join("missing"),
        ]);
        let got: Vec<(String, Kind)> = inputs
            .iter()
            .map(|i| {
                (
                    i.path
                        .file_name()
                        .expect("name")
                        .to_string_lossy()
                        .into_owned(),
                    i.kind,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("events.log".to_owned(), Kind::Json),
                ("a.ndjson".to_owned(), Kind::Json),
                ("b.EVTX".to_owned(), Kind::Evtx),
            ]
        );
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.contains("not an EVTX or JSON"));
        assert!(problems[1].message.contains("cannot read"));
    }

    #[test]
    fn rule_files_are_read_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("b.yml"), "title: b").expect("write");
        std::fs::write(dir.path().join("a.yaml"), "title: a").expect("write");
        std::fs::write(dir.path().join("c.txt"), "x").expect("write");
        let (rules, problems) = read_rules(&[dir.path().to_path_buf()]);
        assert!(problems.is_empty());
        let names: Vec<&str> = rules.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(names, vec!["title: a", "title: b"]);
    }
}
