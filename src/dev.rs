//! The embedded default (`rootvault dev`): a ready-to-try service.
//!
//! On first start it initialises a data directory with local keys (one
//! unseal share, kept in the directory so it can auto-unseal), a dev issuer
//! per org (`acme` the provider, `globex` and `initech` customers) and a few
//! demo accounts with custodians and deposited halves. Later starts reuse
//! it. Nothing here is fit for production: the share sits beside the data.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use totp_rs::Secret;

use crate::app::{self, App, StartError};
use crate::audit::HttpInfo;
use crate::auth::Caller;
use crate::auth::dev::{DevIssuer, DevIssuerError};
use crate::auth::dev_idp::DevIdp;
use crate::config::{ClientSecret, Config, JwksSource, OidcSettings};
use crate::crypto::local::SealedKeyring;
use crate::crypto::totp::MfaSeed;
use crate::domain::account::{AccountKind, AccountModel, Contacts, CustodyMode, KeyOverrides, NewAccount};
use crate::domain::ids::{Half, OrgName, Principal, Role, Subject};
use crate::domain::onboarding::{OnboardingItem, Start};
use crate::domain::reverse::{ItemStatus, Signatory};
use crate::error::Error;
use crate::store::keyring::{self, KeyringRecord};
use crate::store::{Store, StoreError};
use crate::vault::{MfaInput, OnboardingStep, PasswordInput, now_rfc3339};

/// Where `rootvault dev` keeps its data unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = ".rootvault-dev";
/// The dev unseal share, beside the data it unseals (dev only).
const SHARE_FILE: &str = "dev-unseal.share";

/// A demo person: org, subject, roles, and what they are for.
#[derive(Debug)]
pub struct DemoPerson {
    pub org: &'static str,
    pub sub: &'static str,
    pub roles: &'static [Role],
    pub about: &'static str,
}

pub const PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        org: "acme",
        sub: "ada",
        roles: &[Role::Admin],
        about: "provider admin: registers accounts, names acme custodians",
    },
    DemoPerson { org: "acme", sub: "alice", roles: &[Role::Staff], about: "provider staff, password custodian" },
    DemoPerson {
        org: "acme",
        sub: "bob",
        roles: &[Role::Staff],
        about: "provider staff, MFA custodian of provider-split accounts",
    },
    DemoPerson {
        org: "acme",
        sub: "sam",
        roles: &[Role::Staff],
        about: "provider staff on call: asks for break-glass access",
    },
    DemoPerson { org: "acme", sub: "carol", roles: &[Role::Approver], about: "provider approver" },
    DemoPerson { org: "acme", sub: "dave", roles: &[Role::Approver], about: "provider approver" },
    DemoPerson { org: "acme", sub: "audrey", roles: &[Role::Auditor], about: "provider auditor" },
    DemoPerson { org: "globex", sub: "gina", roles: &[Role::Admin], about: "globex admin" },
    DemoPerson {
        org: "globex",
        sub: "gus",
        roles: &[Role::Staff],
        about: "globex staff, MFA custodian of the shared payer",
    },
    DemoPerson { org: "globex", sub: "grace", roles: &[Role::Approver], about: "globex approver" },
    DemoPerson {
        org: "globex",
        sub: "gloria",
        roles: &[Role::Auditor],
        about: "globex auditor: sees the events of globex's accounts",
    },
    DemoPerson { org: "initech", sub: "ian", roles: &[Role::Admin], about: "initech admin" },
    DemoPerson {
        org: "initech",
        sub: "ivy",
        roles: &[Role::Staff],
        about: "initech staff, MFA custodian of the co-owned payer",
    },
];

/// A demo account: id, name, kind, model, dedicated payer, custody, customer.
type DemoAccount = (&'static str, &'static str, AccountKind, AccountModel, bool, CustodyMode, Option<&'static str>);

const ACCOUNTS: &[DemoAccount] = &[
    (
        "100000000001",
        "Globex payer",
        AccountKind::Payer,
        AccountModel::Spam,
        true,
        CustodyMode::SharedPayer,
        Some("globex"),
    ),
    (
        "100000000002",
        "Globex production",
        AccountKind::Member,
        AccountModel::Spam,
        false,
        CustodyMode::ProviderSplit,
        Some("globex"),
    ),
    (
        "100000000003",
        "Initech payer",
        AccountKind::Payer,
        AccountModel::Spam,
        true,
        CustodyMode::CoOwned,
        Some("initech"),
    ),
    (
        "100000000004",
        "Initech sandbox",
        AccountKind::Member,
        AccountModel::Ecam,
        false,
        CustodyMode::CustomerOwned,
        Some("initech"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issuer(#[from] DevIssuerError),
    #[error("cannot prepare the dev data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not set up the demo data: {0}")]
    Seed(#[from] Error),
}

/// A running dev service's parts, before it listens.
#[derive(Debug)]
pub struct DevVault {
    pub app: App,
    pub config: Config,
}

fn principal(org: &str, sub: &str) -> Principal {
    // The demo tables above hold valid names; a typo there fails every test.
    let org: OrgName = org.parse().unwrap_or_else(|_| unreachable!("demo org names are valid"));
    let sub: Subject = sub.parse().unwrap_or_else(|_| unreachable!("demo subjects are valid"));
    Principal::new(org, sub)
}

fn caller(org: &str, sub: &str, roles: &[Role]) -> Caller {
    Caller {
        principal: principal(org, sub),
        roles: roles.iter().copied().collect(),
        auth_time: Some(crate::vault::unix_now()),
    }
}

/// Create the key ring and the dev share on first use; return the share.
fn ensure_keyring(store: &Store, data_dir: &Path) -> Result<SecretString, DevError> {
    let share_path = data_dir.join(SHARE_FILE);
    if store.blocking(keyring::load)?.is_none() {
        let (ring, shares) = SealedKeyring::create(1, 1).map_err(Error::from)?;
        let mut file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&share_path)?;
        for share in &shares {
            file.write_all(share.expose().as_bytes())?;
        }
        file.sync_all()?;
        let record = KeyringRecord { provider: "local".into(), sealed: Some(ring) };
        store.blocking(|c| keyring::save(c, &record, &now_rfc3339()))?;
    }
    Ok(SecretString::from(fs::read_to_string(share_path)?.trim().to_owned()))
}

fn dev_http() -> HttpInfo {
    HttpInfo { user_agent: Some("rootvault dev".into()), ..HttpInfo::default() }
}

/// Open (creating on first use) a dev data directory, unsealed, with no
/// demo data added.
pub async fn open_empty(data_dir: PathBuf, listen: std::net::SocketAddr) -> Result<DevVault, DevError> {
    open_configured(Config::dev(data_dir, listen)).await
}

/// The same with a dev configuration the caller adjusted (tests give it
/// other checkpoint witnesses).
pub async fn open_configured(config: Config) -> Result<DevVault, DevError> {
    let data_dir = config.data_dir.clone();
    fs::create_dir_all(&data_dir)?;
    let share = ensure_keyring(&app::open_store(&config, None)?, &data_dir)?;
    let mut config = config;
    // Each dev org signs in at its own dev identity provider, through the
    // same relying party as a production one.
    let dev_idp = if config.dev {
        let dev_orgs: Vec<OrgName> = config
            .orgs
            .iter()
            .filter(|o| o.bearer.as_ref().is_some_and(|b| b.jwks == JwksSource::Dev))
            .map(|o| o.name.clone())
            .collect();
        for org in &dev_orgs {
            DevIssuer::load_or_create(&data_dir, org)?;
        }
        let idp = DevIdp::new(&data_dir, dev_orgs.iter().cloned())?;
        let secret = ClientSecret::new(idp.client_secret().clone());
        // An org whose provider the configuration already names keeps it
        // (tests point a dev org at a provider of their own).
        for org in config.orgs.iter_mut().filter(|o| dev_orgs.contains(&o.name) && o.oidc.is_none()) {
            org.oidc = Some(OidcSettings::dev(idp.client_id(), secret.clone()));
        }
        Some(Arc::new(idp))
    } else {
        None
    };
    let mut app = app::build(&config).await?;
    app.vault.unseal(&dev_http(), share).await?;
    app.parts_mut().dev_idp = dev_idp;
    Ok(DevVault { app, config })
}

/// Open a dev data directory, unsealed, with the demo accounts in place.
pub async fn open(
    data_dir: PathBuf,
    listen: std::net::SocketAddr,
    mail_relay: Option<std::net::SocketAddr>,
) -> Result<DevVault, DevError> {
    let mut config = Config::dev(data_dir, listen);
    if let Some(relay) = mail_relay {
        route_mail_to(&mut config, relay);
    }
    let dev = open_configured(config).await?;
    seed(&dev.app, &dev_http()).await?;
    Ok(dev)
}

/// Send the demo orgs' notifications to an SMTP server on this machine:
/// `approvers@<org>.example`, `soc@<org>.example` and, for the provider,
/// `accounts@<org>.example`; people get theirs at the address the dev
/// identity provider vouches for (`<sub>@<org>.example`).
pub fn route_mail_to(config: &mut Config, relay: std::net::SocketAddr) {
    config.people.email = Some(crate::config::EmailSettings {
        host: relay.ip().to_string(),
        port: relay.port(),
        // A relay on this machine (the CLI refuses any other).
        tls: crate::config::SmtpTls::DangerPlaintext,
        username: None,
        password: None,
        from: "rootvault dev <rootvault@acme.example>".into(),
        ca_file: None,
    });
    let provider = config.provider_org.clone();
    for org in &mut config.orgs {
        let address = |local: &str| format!("{local}@{}.example", org.name).parse().ok();
        org.notify = crate::config::OrgRouting {
            approvers_email: address("approvers"),
            security_email: address("soc"),
            account_team_email: if org.name == provider { address("accounts") } else { None },
            chat: Vec::new(),
        };
    }
}

/// Register the demo accounts unless any account exists.
async fn seed(app: &App, http: &HttpInfo) -> Result<(), Error> {
    let ada = caller("acme", "ada", &[Role::Admin]);
    if !app.vault.accounts(&ada, http).await?.is_empty() {
        return Ok(());
    }
    for (id, name, kind, model, dedicated, custody, customer) in ACCOUNTS {
        let new = NewAccount {
            account_id: id.parse()?,
            name: (*name).to_owned(),
            kind: *kind,
            model: *model,
            dedicated_payer: *dedicated,
            custody: *custody,
            customer_org: customer.map(|c| c.parse()).transpose()?,
            root_email: format!("aws-root+{id}@acme.example").parse()?,
            contacts: Contacts::default(),
            kms_keys: KeyOverrides::default(),
            assignment: Default::default(),
        };
        let custody = new.custody;
        let id = new.account_id.clone();
        app.vault.create_account(&ada, http, new).await?;
        if custody.stores_halves() {
            let start = Start {
                signatory: Signatory { name: "Demo Signatory".into(), email: "signatory@example.com".parse()? },
                legal_name: (*name).to_owned(),
                legal_address: "1 Demo Street".into(),
            };
            app.vault.start_onboarding(&ada, http, id, start).await?;
        }
    }
    // (account, admin org/sub, half, custodian org/sub)
    type Assignment = (&'static str, (&'static str, &'static str), Half, (&'static str, &'static str));
    let custody: &[Assignment] = &[
        ("100000000001", ("acme", "ada"), Half::Password, ("acme", "alice")),
        ("100000000001", ("globex", "gina"), Half::Mfa, ("globex", "gus")),
        ("100000000002", ("acme", "ada"), Half::Password, ("acme", "alice")),
        ("100000000002", ("acme", "ada"), Half::Mfa, ("acme", "bob")),
        ("100000000003", ("acme", "ada"), Half::Password, ("acme", "alice")),
        ("100000000003", ("initech", "ian"), Half::Mfa, ("initech", "ivy")),
    ];
    for (id, (admin_org, admin_sub), half, (org, sub)) in custody {
        let admin = caller(admin_org, admin_sub, &[Role::Admin]);
        app.vault.set_custodians(&admin, http, id.parse()?, *half, vec![principal(org, sub)]).await?;
        let custodian = caller(org, sub, &[Role::Staff]);
        match half {
            Half::Password => {
                app.vault.deposit_password(&custodian, http, id.parse()?, PasswordInput::Generate).await?;
            }
            Half::Mfa => {
                let mut raw = [0u8; 20];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
                let Secret::Encoded(seed) = &Secret::Raw(raw.to_vec()).to_encoded() else {
                    return Err(Error::Internal("seed generation did not encode".into()));
                };
                let seed = MfaSeed::from_base32(seed, None, None, None)?;
                app.vault.deposit_mfa(&custodian, http, id.parse()?, MfaInput::Seed(seed)).await?;
            }
        }
    }
    // The deposits settled `reset_password` and `enable_mfa`; the rest of
    // the checklist is the provider's, done by hand in real life.
    for (id, ..) in ACCOUNTS.iter().filter(|a| a.5.stores_halves()) {
        for item in OnboardingItem::ALL.into_iter().filter(|i| !i.is_the_services()) {
            let step = OnboardingStep::Mark(item, ItemStatus::Done);
            app.vault.onboarding_step(&ada, http, id.parse()?, step).await?;
        }
        app.vault.onboarding_step(&ada, http, id.parse()?, OnboardingStep::Complete).await?;
    }
    Ok(())
}

/// A token for a demo person from the org's dev issuer.
pub fn token_for(config: &Config, person: &DemoPerson, ttl_seconds: u64) -> Result<String, DevError> {
    let org: OrgName = person.org.parse().map_err(|_| DevIssuerError::Sign)?;
    let sub: Subject = person.sub.parse().map_err(|_| DevIssuerError::Sign)?;
    Ok(DevIssuer::load(&config.data_dir, &org)?.mint(&config.audience, &sub, person.roles, ttl_seconds)?)
}
