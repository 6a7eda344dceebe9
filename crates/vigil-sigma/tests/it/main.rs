//! vigil-sigma integration tests: the SigmaHQ corpus, SigmaHQ regression samples, golden
//! error messages, correlation evaluation.

mod corpus;
mod correlation;
mod differential;
mod errors;
mod match_set;
mod regression;

use std::path::{Path, PathBuf};

/// Every `.yml` file under `dir`, sorted, as `(path relative to dir, text)`.
pub fn read_tree(dir: &Path, ext: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .expect("readable directory")
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == ext) {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, std::fs::read_to_string(&p).expect("utf-8 file")));
            }
        }
    }
    files.sort();
    files
}
