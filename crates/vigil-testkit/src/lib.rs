//! Test helpers shared by Vigil's crates (a dev-dependency only, never a normal one).
//!
//! Tests that need an outside service ask [`service_url`] for its address. When the variable
//! is unset the test prints a `SKIP` line naming the variable and returns early, unless
//! `VIGIL_TEST_REQUIRE=1` is set (as CI sets it), in which case the missing service fails the
//! test: in CI nothing skips. [`shared_data`] does the same for the corpora in `../shared/data`.

pub mod fixtures;

use std::path::{Path, PathBuf};

/// True when missing services and corpora must fail tests instead of skipping them.
pub fn require() -> bool {
    std::env::var("VIGIL_TEST_REQUIRE").is_ok_and(|v| v == "1" || v == "true")
}

/// The value of `var` (for example `VIGIL_TEST_POSTGRES_URL`), or `None` after printing a SKIP
/// line. Panics when the variable is missing and [`require`] is on.
pub fn service_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            if require() {
                panic!("{test}: {var} is not set and VIGIL_TEST_REQUIRE=1 forbids skipping");
            }
            println!("SKIP {test}: {var} is not set");
            None
        }
    }
}

/// The workspace root (the directory holding the top Cargo.toml and crates/).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// A path under `../shared/data` (beside the project root), or `None` after printing a SKIP
/// line when it is absent. `VIGIL_SHARED_DATA` overrides the location. Panics when the
/// corpus is missing and [`require`] is on.
pub fn shared_data(rel: &str, test: &str) -> Option<PathBuf> {
    let base = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/data"));
    let p = base.join(rel);
    if p.exists() {
        return Some(p);
    }
    if require() {
        panic!(
            "{test}: corpus {} is missing and VIGIL_TEST_REQUIRE=1 forbids skipping",
            p.display()
        );
    }
    println!("SKIP {test}: corpus {} is missing", p.display());
    None
}

/// Every file with extension `ext` under `dir`, sorted, as `(path relative to dir, text)`:
/// the rule and sample trees the Sigma tests, benches and examples read. Panics on an
/// unreadable directory or file (test tooling only).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_crates_directory() {
        assert!(workspace_root().join("crates").is_dir());
    }

    #[test]
    fn set_variables_are_returned() {
        // PATH is set in every test environment.
        assert!(service_url("PATH", "t").is_some());
    }
}
