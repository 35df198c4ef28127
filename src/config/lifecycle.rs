//! `[lifecycle]`: when DDI moves may happen without a fee
//! (docs/lifecycle.md). By default the 15th to the 25th of March, June,
//! September and December (seed 000).

use serde::Deserialize;

use super::ConfigError;
use crate::domain::moves::{MoveWindows, WindowError};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLifecycle {
    move_window_months: Option<Vec<u8>>,
    move_window_first_day: Option<u8>,
    move_window_last_day: Option<u8>,
}

/// Validate `[lifecycle]`; absent keys keep the seed's windows.
pub(super) fn parse_lifecycle(file: Option<FileLifecycle>) -> Result<MoveWindows, ConfigError> {
    let Some(file) = file else { return Ok(MoveWindows::default()) };
    let months = file.move_window_months.unwrap_or_else(|| vec![3, 6, 9, 12]);
    let first = file.move_window_first_day.unwrap_or(15);
    let last = file.move_window_last_day.unwrap_or(25);
    MoveWindows::new(&months, first, last).map_err(|e| {
        let key = match e {
            WindowError::NoMonths | WindowError::Month => "lifecycle.move_window_months",
            WindowError::Day if (1..=31).contains(&first) => "lifecycle.move_window_last_day",
            WindowError::Day | WindowError::Order => "lifecycle.move_window_first_day",
        };
        ConfigError::new(key, e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MoveWindows, ConfigError> {
        #[derive(Deserialize)]
        struct Wrapper {
            lifecycle: Option<FileLifecycle>,
        }
        let w: Wrapper = toml::from_str(text).unwrap();
        parse_lifecycle(w.lifecycle)
    }

    #[test]
    fn without_the_section_the_seed_windows_apply() {
        assert_eq!(parse("").unwrap(), MoveWindows::default());
        assert_eq!(parse("[lifecycle]").unwrap(), MoveWindows::default());
    }

    #[test]
    fn windows_can_be_set_and_bad_ones_name_their_key() {
        let w = parse(
            "[lifecycle]\nmove_window_months = [1, 4, 7, 10]\nmove_window_first_day = 1\nmove_window_last_day = 10",
        )
        .unwrap();
        assert_eq!(w.describe(), "the 1st to the 10th of January, April, July and October");
        let key = |text: &str| parse(text).unwrap_err().key;
        assert_eq!(key("[lifecycle]\nmove_window_months = []"), "lifecycle.move_window_months");
        assert_eq!(key("[lifecycle]\nmove_window_months = [13]"), "lifecycle.move_window_months");
        assert_eq!(key("[lifecycle]\nmove_window_first_day = 0"), "lifecycle.move_window_first_day");
        assert_eq!(key("[lifecycle]\nmove_window_last_day = 40"), "lifecycle.move_window_last_day");
        assert_eq!(key("[lifecycle]\nmove_window_first_day = 26"), "lifecycle.move_window_first_day");
    }
}
