//! Opaque cursors for keyset pagination: a sort time and a tie-breaking key.

use crate::StoreError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The position after the last item of a page: `(time in microseconds, key)`. Lists are
/// ordered by time descending, then key descending, so the next page is everything strictly
/// before this position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub micros: i64,
    pub key: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.micros, self.key))
    }

    pub fn decode(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::BadCursor(format!("'{s}' is not a cursor this server issued"));
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (m, k) = text.split_once('|').ok_or_else(bad)?;
        Ok(Self {
            micros: m.parse().map_err(|_| bad())?,
            key: k.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let c = Cursor {
            micros: 1_762_000_000_000_000,
            key: "0194d4a0-0000-7000-8000-000000000001".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        assert!(matches!(
            Cursor::decode("!!"),
            Err(StoreError::BadCursor(_))
        ));
        assert!(matches!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("nobar")),
            Err(StoreError::BadCursor(_))
        ));
    }
}
