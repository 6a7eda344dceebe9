//! The SM4 key that encrypts personal contact fields at rest (`crypto.field_key_file`).
//!
//! The file holds the key as 32 hex digits and a newline (16 raw bytes are read too). When it
//! is missing it is created, with its directory, owner-only (0600) and a fresh random key; it
//! is never overwritten. Losing the file makes the stored contact names, phone numbers and
//! e-mail addresses unreadable: back it up with the data. The key is never logged.

use std::path::Path;
use vigil_crypto::FieldKey;

/// Why the field key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum FieldKeyError {
    #[error("cannot read the field key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the field key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the field key file {path} does not hold an SM4 key: {source}")]
    Parse {
        path: String,
        source: vigil_crypto::CryptoError,
    },
}

/// Reads the key at `path`, or creates the file with a new random key when it does not exist.
pub fn load_or_create_field_key(path: &Path) -> Result<FieldKey, FieldKeyError> {
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => FieldKey::from_key_file(&bytes).map_err(|source| FieldKeyError::Parse {
            path: shown,
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = FieldKey::generate();
            match write_private(path, format!("{}\n", key.to_hex()).as_bytes()) {
                Ok(()) => {
                    tracing::info!(path = %shown, "field encryption key created");
                    Ok(key)
                }
                // Another process created it first: use that one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_or_create_field_key(path)
                }
                Err(source) => Err(FieldKeyError::Write {
                    path: shown,
                    source,
                }),
            }
        }
        Err(source) => Err(FieldKeyError::Read {
            path: shown,
            source,
        }),
    }
}

/// Creates `path` (and its directory) with owner-only permissions; never overwrites.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_owner_only_and_reused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("keys").join("field-sm4.key");
        let key = load_or_create_field_key(&path).expect("create");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{}\n", key.to_hex()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        // Reused, not replaced.
        let again = load_or_create_field_key(&path).expect("reuse");
        assert_eq!(again.to_hex(), key.to_hex());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
        // Sealed with one, opened with the other.
        let sealed = vigil_crypto::seal_str(&key, "ctx", "13800138000").expect("seal");
        assert_eq!(
            vigil_crypto::open_str(&again, "ctx", &sealed).expect("open"),
            "13800138000"
        );
    }

    #[test]
    fn a_bad_key_file_is_an_error_naming_it_and_is_left_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("field-sm4.key");
        std::fs::write(&path, "0123\n").expect("write");
        let e = load_or_create_field_key(&path).expect_err("bad key");
        assert!(matches!(e, FieldKeyError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("field-sm4.key"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "0123\n");
    }
}
