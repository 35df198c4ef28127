//! `rootvault token`: mint a dev token.

use std::path::Path;

use anyhow::{Context, bail};

use crate::auth::dev::DevIssuer;
use crate::config::DEFAULT_AUDIENCE;
use crate::domain::ids::{OrgName, Role, Subject};

const MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// `90s`, `30m`, `1h`, `2d` → seconds.
pub fn parse_ttl(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().with_context(|| format!("{text:?} is not a duration like 30m or 1h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => bail!("{text:?} is not a duration like 30m or 1h"),
    };
    if seconds == 0 || seconds > MAX_TTL_SECONDS {
        bail!("a token lives between 1 second and 7 days");
    }
    Ok(seconds)
}

pub fn run(data_dir: &Path, org: &str, sub: &str, roles: &[String], ttl: &str) -> anyhow::Result<()> {
    let org: OrgName = org.parse().context("--org")?;
    let sub: Subject = sub.parse().context("--sub")?;
    let roles = roles.iter().map(|r| r.parse::<Role>()).collect::<Result<Vec<_>, _>>().context("--roles")?;
    let ttl = parse_ttl(ttl)?;
    let issuer = DevIssuer::load(data_dir, &org)?;
    println!("{}", issuer.mint(DEFAULT_AUDIENCE, &sub, &roles, ttl)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttls_take_a_unit_and_stay_within_a_week() {
        assert_eq!(parse_ttl("90s").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("1h").unwrap(), 3600);
        assert_eq!(parse_ttl("7d").unwrap(), 604_800);
        for bad in ["", "h", "0m", "8d", "1w", "-1h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
