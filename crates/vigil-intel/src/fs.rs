//! The one module that touches the file system: reading a MISP feed from a directory.

use crate::misp::{FeedError, FeedSource};
use std::path::PathBuf;

/// A MISP feed laid out in a local directory (`manifest.json`, `<uuid>.json`, `hashes.csv`).
#[derive(Debug, Clone)]
pub struct DirFeed {
    pub dir: PathBuf,
}

impl DirFeed {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl FeedSource for DirFeed {
    fn read(&self, name: &str) -> Result<Vec<u8>, FeedError> {
        // Names come from the feed's manifest: refuse anything that could leave the directory.
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(FeedError::Io(
                name.to_string(),
                "not a plain file name".into(),
            ));
        }
        let path = self.dir.join(name);
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                FeedError::NotFound(name.to_string())
            } else {
                FeedError::Io(path.display().to_string(), e.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_refuses_paths() {
        let dir = std::env::temp_dir().join(format!("vigil-intel-dirfeed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("manifest.json"), b"{}").expect("write");
        let feed = DirFeed::new(&dir);
        assert_eq!(feed.read("manifest.json").expect("read"), b"{}");
        assert!(matches!(
            feed.read("hashes.csv"),
            Err(FeedError::NotFound(_))
        ));
        assert!(matches!(feed.read("../etc/passwd"), Err(FeedError::Io(..))));
        assert!(matches!(feed.read(".."), Err(FeedError::Io(..))));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
