//! The server-rendered web UI (placeholder until the UI lands).

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
