//! HTML to PDF with the system's headless Chromium (Debian's `chromium` package).
//!
//! The page is written to a private temporary directory and printed with
//! `chromium --headless --no-sandbox --print-to-pdf=…`, with its profile, home and caches in
//! that directory, within a bounded time; the directory is removed afterwards. Without
//! Chromium the caller gets [`PdfError::Missing`] (the web layer answers 503).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The longest a rendering may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why no PDF was made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("Chromium is not installed ({0} is missing): PDF rendering is not available")]
    Missing(&'static str),
    #[error("PDF rendering failed to start or to use its temporary files: {0}")]
    Io(#[from] std::io::Error),
    #[error("Chromium did not finish the PDF within {0} s")]
    Timeout(u64),
    #[error("Chromium did not produce a PDF: {0}")]
    Failed(String),
}

/// Is Chromium installed where this module looks for it?
pub fn available() -> bool {
    Path::new(CHROMIUM).is_file()
}

/// Renders a complete, self-contained HTML document (no links to the server) to PDF.
pub async fn render(html: String) -> Result<Vec<u8>, PdfError> {
    if !available() {
        return Err(PdfError::Missing(CHROMIUM));
    }
    tokio::task::spawn_blocking(move || render_blocking(&html, TIMEOUT))
        .await
        .map_err(|e| PdfError::Failed(format!("the rendering task ended: {e}")))?
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let p = std::env::temp_dir().join(format!("vigil-pdf-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir(&p)?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(dir = %self.0.display(), error = %e, "removing a PDF work directory failed");
        }
    }
}

fn render_blocking(html: &str, timeout: Duration) -> Result<Vec<u8>, PdfError> {
    let dir = TempDir::new()?;
    let page = dir.0.join("report.html");
    let out = dir.0.join("report.pdf");
    let log = dir.0.join("chromium.log");
    std::fs::write(&page, html)?;
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.0.join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .env("HOME", &dir.0)
        .env("XDG_CONFIG_HOME", dir.0.join("config"))
        .env("XDG_CACHE_HOME", dir.0.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            // Already exited between the check and the kill is fine either way.
            let _ = child.kill();
            let _ = child.wait();
            return Err(PdfError::Timeout(timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let pdf = std::fs::read(&out).unwrap_or_default();
    if !status.success() || !pdf.starts_with(b"%PDF-") {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: String = text
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        tracing::error!(%status, log = %tail, "Chromium did not produce a PDF");
        return Err(PdfError::Failed(format!("exit {status}")));
    }
    Ok(pdf)
}
