//! Invariant 8 with the local provider: a ciphertext moved to another row
//! does not decrypt.

use reqwest::StatusCode;
use rootvault::domain::ids::{AccountId, Half};

use crate::helpers::{PASSWORD, SEED, TestApp, spawn_app};

/// Copy the stored ciphertext and wrapped key of one half version over another row's.
pub fn transplant(app: &TestApp, from: (&str, &str, u32), to: (&str, &str, u32)) {
    let changed = app
        .db()
        .execute(
            "UPDATE half_versions SET
                ciphertext = (SELECT ciphertext FROM half_versions WHERE account_id = ?1 AND half = ?2 AND version = ?3),
                wrapped_key = (SELECT wrapped_key FROM half_versions WHERE account_id = ?1 AND half = ?2 AND version = ?3),
                key_id = (SELECT key_id FROM half_versions WHERE account_id = ?1 AND half = ?2 AND version = ?3),
                sm_version_id = (SELECT sm_version_id FROM half_versions WHERE account_id = ?1 AND half = ?2 AND version = ?3)
             WHERE account_id = ?4 AND half = ?5 AND version = ?6",
            rusqlite::params![from.0, from.1, from.2, to.0, to.1, to.2],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

/// Two accounts with both halves deposited, the second account's password twice.
pub async fn two_accounts(app: &TestApp) {
    for id in ["111111111111", "222222222222"] {
        app.provider_split_account(id).await;
        assert_eq!(app.deposit_password(id, "acme/alice", PASSWORD).await.status, StatusCode::OK);
        assert_eq!(app.deposit_seed(id, "acme/bob", SEED).await.status, StatusCode::OK);
    }
    assert_eq!(app.deposit_password("222222222222", "acme/alice", "Another-Passw0rd!").await.status, StatusCode::OK);
}

/// Every kind of move fails to decrypt, and untouched rows still do.
pub async fn assert_moves_fail(app: &TestApp) {
    let vault = &app.app.vault;
    let a: AccountId = "111111111111".parse().unwrap();
    let b: AccountId = "222222222222".parse().unwrap();
    assert_eq!(&*vault.decrypt_current(&a, Half::Password).await.unwrap().unwrap().1, PASSWORD.as_bytes());

    // Another account's row.
    transplant(app, ("111111111111", "password", 1), ("222222222222", "password", 2));
    assert!(vault.decrypt_current(&b, Half::Password).await.is_err(), "moved across accounts");
    // The other half's row of the same account.
    transplant(app, ("111111111111", "password", 1), ("111111111111", "mfa", 1));
    assert!(vault.decrypt_current(&a, Half::Mfa).await.is_err(), "moved across halves");
    // An older version of the same half, presented as the current one.
    app.db()
        .execute("UPDATE halves SET current_version = 2 WHERE account_id = '111111111111' AND half = 'password'", [])
        .unwrap();
    app.db()
        .execute(
            "INSERT INTO half_versions (account_id, half, version, state, ciphertext, wrapped_key, key_id, source,
                                        created_at, created_by, sm_version_id)
             SELECT account_id, half, 2, 'current', ciphertext, wrapped_key, key_id, source, created_at, created_by, sm_version_id
               FROM half_versions WHERE account_id = '111111111111' AND half = 'password' AND version = 1",
            [],
        )
        .unwrap();
    assert!(vault.decrypt_current(&a, Half::Password).await.is_err(), "moved across versions");
    assert!(vault.decrypt_current(&b, Half::Mfa).await.unwrap().is_some(), "an untouched row still decrypts");
}

#[tokio::test]
async fn a_ciphertext_copied_into_another_row_fails_to_decrypt_with_local_keys() {
    let app = spawn_app().await;
    two_accounts(&app).await;
    assert_moves_fail(&app).await;
}
