//! `rootvault init`: create the local key ring and print the shares once.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::{Config, KeysConfig, ProcessEnv};
use crate::crypto::local::SealedKeyring;
use crate::store::Store;
use crate::store::keyring::{self, KeyringRecord};
use crate::vault::now_rfc3339;

pub fn run(config: Option<PathBuf>, data_dir: Option<PathBuf>, shares: u8, threshold: u8) -> anyhow::Result<()> {
    if threshold > shares {
        bail!("the threshold ({threshold}) cannot exceed the number of shares ({shares})");
    }
    let (store, data_dir) = match (config, data_dir) {
        (Some(path), _) => {
            let config = Config::load(&path, &ProcessEnv)?;
            if config.keys != KeysConfig::Local {
                bail!("init creates local keys; with aws-kms the keys live in KMS and `serve` needs no init");
            }
            (crate::app::open_store(&config, None)?, config.data_dir)
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            (Store::open(&dir)?, dir)
        }
        (None, None) => bail!("give --config or --data-dir"),
    };
    if store.blocking(keyring::load)?.is_some() {
        bail!("{} is already initialised; its shares were printed when it was", data_dir.display());
    }
    let (ring, shares_out) = SealedKeyring::create(shares, threshold)?;
    let record = KeyringRecord { provider: "local".into(), sealed: Some(ring) };
    store.blocking(|c| keyring::save(c, &record, &now_rfc3339()))?;
    println!("Initialised {} with {shares} unseal shares; any {threshold} unseal it.", data_dir.display());
    println!("Each share is printed this once and stored nowhere. Give each to a different person.\n");
    for (i, share) in shares_out.iter().enumerate() {
        println!("share {}: {}", i + 1, share.expose());
    }
    Ok(())
}
