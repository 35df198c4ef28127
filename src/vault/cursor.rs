//! Opaque cursors of paged listings: where the previous page ended, as the
//! sort time and id of its last row, in base64url so clients treat it as a
//! token rather than something to build.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;

/// The cursor of the row `(at, id)`.
pub fn encode(at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at}.{id}"))
}

/// The `(at, id)` a cursor stands for; anything this service did not issue,
/// or whose id `valid_id` refuses, is 400 `invalid_query`.
pub fn decode(cursor: &str, valid_id: impl Fn(&str) -> bool) -> Result<(i64, String), Error> {
    let bad = || Error::malformed("invalid_query", "the cursor is not one this service issued");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, id) = raw.split_once('.').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    if !valid_id(id) {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_anything_else_is_refused() {
        let c = encode(-5, "req_ab");
        assert_eq!(decode(&c, |id| id.starts_with("req_")).unwrap(), (-5, "req_ab".to_owned()));
        assert!(decode(&c, |_| false).is_err());
        for junk in ["", "nope!", &URL_SAFE_NO_PAD.encode("12"), &URL_SAFE_NO_PAD.encode("x.req_ab")] {
            assert_eq!(decode(junk, |_| true).unwrap_err().code(), "invalid_query", "{junk}");
        }
    }
}
