//! The people-facing part of the notification configuration: the SMTP
//! relay (`[notify.email]`), the chat channels (`[[notify.chat]]`) and each
//! org's routing (`[orgs.notify]`).
//!
//! See docs/notifications.md for the meaning of every key. Secrets (the
//! SMTP password, chat webhook URLs, which embed their token) come from a
//! file or the environment and never print.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{ConfigError, Env, secret_from};
use crate::domain::account::Email;
use crate::domain::ids::OrgName;

/// How the relay's connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtp://`: plain connection upgraded with STARTTLS, which is required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://` with `danger_allow_plaintext`: no TLS at all (a relay on
    /// this machine, or the test server).
    DangerPlaintext,
}

/// The relay's password: never printed.
#[derive(Clone)]
pub struct SmtpPassword(SecretString);

impl SmtpPassword {
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for SmtpPassword {
    fn eq(&self, other: &Self) -> bool {
        self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
    }
}

impl Eq for SmtpPassword {}

impl std::fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpPassword(…)")
    }
}

/// `[notify.email]`: where e-mail goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SmtpPassword>,
    /// The sender, e.g. `rootvault <rootvault@msp.example>`.
    pub from: String,
    /// Extra CA certificates (PEM) trusted for the relay, for a relay with
    /// a private CA.
    pub ca_file: Option<PathBuf>,
}

/// The shape a chat webhook expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFormat {
    /// Slack incoming webhooks (`text` plus Block Kit `blocks`).
    Slack,
    /// Microsoft Teams workflow webhooks (an Adaptive Card attachment).
    Teams,
    /// A plain JSON object with the message's fields.
    Generic,
}

impl ChatFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatFormat::Slack => "slack",
            ChatFormat::Teams => "teams",
            ChatFormat::Generic => "generic",
        }
    }
}

/// A chat webhook URL: its path is the credential, so it never prints.
#[derive(Clone)]
pub struct ChatUrl(SecretString);

impl ChatUrl {
    pub fn new(url: String) -> Self {
        Self(SecretString::from(url))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for ChatUrl {
    fn eq(&self, other: &Self) -> bool {
        self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
    }
}

impl Eq for ChatUrl {}

impl std::fmt::Debug for ChatUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatUrl(…)")
    }
}

/// One `[[notify.chat]]` channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatChannel {
    pub name: String,
    pub format: ChatFormat,
    pub url: ChatUrl,
}

/// The channels people are reached through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleChannels {
    pub email: Option<EmailSettings>,
    pub chat: Vec<ChatChannel>,
}

/// `[orgs.notify]`: where one org wants to hear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgRouting {
    /// Asked to decide on new break-glass requests.
    pub approvers_email: Option<Email>,
    /// The SOC distribution list: every release, hand-off and alert.
    pub security_email: Option<Email>,
    /// The account team: hand-offs and root sign-in alerts.
    pub account_team_email: Option<Email>,
    /// Names of `[[notify.chat]]` channels that hear what the org's
    /// approvers and security team hear.
    pub chat: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEmail {
    smtp_url: String,
    from: String,
    username: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    danger_allow_plaintext: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileChat {
    name: String,
    format: String,
    url: Option<String>,
    url_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileOrgNotify {
    approvers_email: Option<String>,
    security_email: Option<String>,
    account_team_email: Option<String>,
    #[serde(default)]
    chat: Vec<String>,
}

/// The environment variable that overrides the SMTP password file.
pub const SMTP_PASSWORD_ENV: &str = "ROOTVAULT_SMTP_PASSWORD";

/// The environment variable that overrides a chat channel's URL.
pub fn chat_url_env(name: &str) -> String {
    format!("ROOTVAULT_CHAT_URL_{}", name.to_uppercase().replace('-', "_"))
}

pub(super) fn parse_email(file: FileEmail, base_dir: &Path, env: &dyn Env) -> Result<EmailSettings, ConfigError> {
    let key = |k: &str| format!("notify.email.{k}");
    let url = url::Url::parse(&file.smtp_url)
        .map_err(|_| ConfigError::new(&key("smtp_url"), "is not a URL like smtp://relay.example:587"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            &key("smtp_url"),
            "must not carry credentials: set username, and the password in password_file or ROOTVAULT_SMTP_PASSWORD",
        ));
    }
    let host = url.host_str().filter(|h| !h.is_empty()).map(|h| h.trim_matches(['[', ']']).to_owned());
    let host = host.ok_or_else(|| ConfigError::new(&key("smtp_url"), "names no host"))?;
    let (tls, default_port) = match (url.scheme(), file.danger_allow_plaintext) {
        ("smtp", false) => (SmtpTls::StartTls, 587),
        ("smtp", true) => (SmtpTls::DangerPlaintext, 25),
        ("smtps", false) => (SmtpTls::Implicit, 465),
        ("smtps", true) => {
            return Err(ConfigError::new(&key("danger_allow_plaintext"), "contradicts smtps://"));
        }
        (other, _) => return Err(ConfigError::new(&key("smtp_url"), format!("{other}:// is not smtp:// or smtps://"))),
    };
    if file.from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(ConfigError::new(&key("from"), "is not an address like rootvault <vault@msp.example>"));
    }
    let password = secret_from(env, SMTP_PASSWORD_ENV, file.password_file, base_dir, &key("password_file"))?;
    if password.is_some() && file.username.is_none() {
        return Err(ConfigError::new(&key("username"), "is required with a password"));
    }
    Ok(EmailSettings {
        host,
        port: url.port().unwrap_or(default_port),
        tls,
        username: file.username,
        password: password.map(|p| SmtpPassword(SecretString::from(p))),
        from: file.from,
        ca_file: file.ca_file.map(|f| if f.is_relative() { base_dir.join(f) } else { f }),
    })
}

pub(super) fn parse_chat(
    files: Vec<FileChat>,
    allow_private: bool,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<Vec<ChatChannel>, ConfigError> {
    let mut out: Vec<ChatChannel> = Vec::new();
    for (index, file) in files.into_iter().enumerate() {
        let key = |k: &str| format!("notify.chat[{index}].{k}");
        let name = file.name.trim().to_owned();
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if name.is_empty() || name.len() > 64 || !name.chars().all(plain) {
            return Err(ConfigError::new(&key("name"), "must be 1-64 letters, digits, - or _"));
        }
        if out.iter().any(|c| c.name == name) {
            return Err(ConfigError::new(&key("name"), format!("{name} is used twice")));
        }
        let format = match file.format.as_str() {
            "slack" => ChatFormat::Slack,
            "teams" => ChatFormat::Teams,
            "generic" => ChatFormat::Generic,
            other => {
                return Err(ConfigError::new(&key("format"), format!("{other:?} is not slack, teams or generic")));
            }
        };
        let url = match (secret_from(env, &chat_url_env(&name), file.url_file, base_dir, &key("url_file"))?, file.url) {
            (Some(url), _) | (None, Some(url)) => url,
            (None, None) => {
                return Err(ConfigError::new(
                    &key("url"),
                    format!("is required (or url_file, or {})", chat_url_env(&name)),
                ));
            }
        };
        // The reason names the rule, never the URL: it holds the token.
        let parsed = crate::notify::target::parse(&url, allow_private)
            .map_err(|e| ConfigError::new(&key("url"), e.to_string()))?;
        // Names are checked at each delivery; an address can be judged now.
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if !allow_private && literal.is_some_and(|ip| !crate::notify::target::is_public(ip)) {
            return Err(ConfigError::new(&key("url"), crate::notify::target::TargetError::NonPublic.to_string()));
        }
        out.push(ChatChannel { name, format, url: ChatUrl::new(url) });
    }
    Ok(out)
}

pub(super) fn parse_routing(
    key: &str,
    file: Option<FileOrgNotify>,
    chat: &[ChatChannel],
) -> Result<OrgRouting, ConfigError> {
    let Some(file) = file else { return Ok(OrgRouting::default()) };
    let email = |field: &str, value: Option<String>| -> Result<Option<Email>, ConfigError> {
        value
            .map(|v| {
                v.parse::<Email>().map_err(|_| ConfigError::new(&format!("{key}.{field}"), "is not an e-mail address"))
            })
            .transpose()
    };
    let mut seen = BTreeSet::new();
    for name in &file.chat {
        if !chat.iter().any(|c| c.name == *name) {
            return Err(ConfigError::new(&format!("{key}.chat"), format!("{name} is not a [[notify.chat]] name")));
        }
        if !seen.insert(name) {
            return Err(ConfigError::new(&format!("{key}.chat"), format!("{name} is listed twice")));
        }
    }
    Ok(OrgRouting {
        approvers_email: email("approvers_email", file.approvers_email)?,
        security_email: email("security_email", file.security_email)?,
        account_team_email: email("account_team_email", file.account_team_email)?,
        chat: file.chat,
    })
}

/// Routing of every org, by name.
pub fn routing_of(orgs: &[super::OrgConfig]) -> std::collections::BTreeMap<OrgName, OrgRouting> {
    orgs.iter().map(|o| (o.name.clone(), o.notify.clone())).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use crate::config::tests::FakeEnv;
    use crate::config::{Config, ConfigError};

    const BASE: &str = r#"
        data_dir = "/var/lib/rootvault"
        provider_org = "acme"
        [keys]
        provider = "local"
    "#;

    fn parse(notify: &str, orgs: &str, env: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let text = format!(
            "{BASE}\n{notify}\n[[orgs]]\nname = \"acme\"\nissuer = \"https://idp.acme.example\"\njwks_file = \"a.json\"\n{orgs}"
        );
        Config::parse(&text, Path::new("/etc/rootvault"), &FakeEnv(env.iter().copied().collect::<HashMap<_, _>>()))
    }

    const EMAIL: &str = r#"
        [notify.email]
        smtp_url = "smtp://smtp.msp.example"
        from = "rootvault <rootvault@msp.example>"
        username = "rootvault"
        [[notify.chat]]
        name = "msp-soc"
        format = "teams"
        url = "https://hooks.msp.example/workflows/1"
    "#;

    #[test]
    fn email_chat_and_an_orgs_routing_parse_with_secrets_from_the_environment() {
        let orgs = r#"
            [orgs.notify]
            approvers_email = "approvers@acme.example"
            security_email = "soc@acme.example"
            chat = ["msp-soc"]
        "#;
        let env =
            [("ROOTVAULT_SMTP_PASSWORD", " hunter22\n"), ("ROOTVAULT_CHAT_URL_MSP_SOC", "https://hooks.msp.example/x")];
        let config = parse(EMAIL, orgs, &env).unwrap();
        let email = config.people.email.as_ref().unwrap();
        assert_eq!((email.host.as_str(), email.port, email.tls), ("smtp.msp.example", 587, super::SmtpTls::StartTls));
        assert_eq!(email.password.as_ref().unwrap().expose(), "hunter22");
        assert!(!format!("{config:?}").contains("hunter22"), "the password never prints");
        let chat = &config.people.chat[0];
        assert_eq!((chat.name.as_str(), chat.format), ("msp-soc", super::ChatFormat::Teams));
        assert_eq!(chat.url.expose(), "https://hooks.msp.example/x", "the environment wins over the file");
        assert!(!format!("{config:?}").contains("hooks.msp.example"), "chat URLs never print");
        let routing = &config.orgs[0].notify;
        assert_eq!(routing.security_email.as_ref().unwrap().as_str(), "soc@acme.example");
        assert_eq!(routing.chat, ["msp-soc"]);
    }

    #[test]
    fn smtps_defaults_to_its_port_and_plaintext_must_be_asked_for() {
        let smtps = EMAIL.replace("smtp://smtp.msp.example", "smtps://smtp.msp.example");
        let email = parse(&smtps, "", &[]).unwrap().people.email.unwrap();
        assert_eq!((email.port, email.tls), (465, super::SmtpTls::Implicit));
        let plain = EMAIL.replace("username = \"rootvault\"", "danger_allow_plaintext = true");
        let email = parse(&plain, "", &[]).unwrap().people.email.unwrap();
        assert_eq!((email.port, email.tls), (25, super::SmtpTls::DangerPlaintext));
    }

    #[test]
    fn bad_notification_settings_are_refused_naming_the_key() {
        let cases: &[(String, &str, &str)] = &[
            (EMAIL.replace("smtp://smtp.msp.example", "smtp://u:p@smtp.msp.example"), "", "notify.email.smtp_url"),
            (EMAIL.replace("smtp://smtp.msp.example", "http://smtp.msp.example"), "", "notify.email.smtp_url"),
            (EMAIL.replace("rootvault <rootvault@msp.example>", "nobody"), "", "notify.email.from"),
            (
                EMAIL
                    .replace("smtp://", "smtps://")
                    .replace("username = \"rootvault\"", "danger_allow_plaintext = true"),
                "",
                "notify.email.danger_allow_plaintext",
            ),
            (EMAIL.replace("format = \"teams\"", "format = \"irc\""), "", "notify.chat[0].format"),
            (EMAIL.replace("https://hooks.msp.example", "http://hooks.msp.example"), "", "notify.chat[0].url"),
            (EMAIL.replace("https://hooks.msp.example", "https://10.0.0.8"), "", "notify.chat[0].url"),
            (EMAIL.replace("name = \"msp-soc\"", "name = \"msp soc\""), "", "notify.chat[0].name"),
            (EMAIL.to_owned(), "[orgs.notify]\nchat = [\"nowhere\"]", "orgs[0].notify.chat"),
            (EMAIL.to_owned(), "[orgs.notify]\nsecurity_email = \"soc\"", "orgs[0].notify.security_email"),
        ];
        for (notify, orgs, key) in cases {
            let err = parse(notify, orgs, &[]).unwrap_err();
            assert_eq!(err.key, *key, "{notify}\n{orgs}\n{err}");
        }
        let without_username = EMAIL.replace("username = \"rootvault\"", "");
        let err = parse(&without_username, "", &[("ROOTVAULT_SMTP_PASSWORD", "pw")]).unwrap_err();
        assert_eq!(err.key, "notify.email.username");
    }
}
