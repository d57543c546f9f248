//! Tokens and roles: minting secrets, hashing them for storage, and deciding what a role may do.
//! The HTTP layer and the CLI both come here, so the rules live in one place.

use crate::store::{Role, Store, StoreError, TokenRecord};
use chrono::Utc;
use sha2::{Digest, Sha256};

/// Every secret starts with this, so a leaked one is easy to spot in logs and scanners.
const SECRET_PREFIX: &str = "swt_";

/// What a caller wants to do; each API route names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Upload,
    /// SOUP records, ticket transitions.
    Analyze,
    /// Signoffs and the audit trail.
    Review,
    Admin,
}

/// Whether `role` grants `perm`. Admin may do everything; every role may read.
pub fn allows(role: Role, perm: Permission) -> bool {
    match perm {
        Permission::Read => true,
        Permission::Upload => matches!(role, Role::Uploader | Role::Admin),
        Permission::Analyze => matches!(role, Role::Analyst | Role::Admin),
        Permission::Review => matches!(role, Role::Reviewer | Role::Admin),
        Permission::Admin => role == Role::Admin,
    }
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token name {0:?}: use 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadName(String),
    #[error("no randomness available from the operating system: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a token and returns the secret, which is shown once and never stored.
pub fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    created_by: &str,
) -> Result<String, TokenError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
        return Err(TokenError::BadName(name.to_string()));
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| TokenError::Random(e.to_string()))?;
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(raw));
    store.create_token(&TokenRecord {
        name: name.to_string(),
        role,
        secret_sha256: hash_secret(&secret),
        created_at: Utc::now(),
        created_by: created_by.to_string(),
    })?;
    Ok(secret)
}

/// The token behind a bearer secret, if any.
pub fn authenticate(store: &Store, secret: &str) -> Result<Option<TokenRecord>, StoreError> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Ok(None);
    }
    store.token_by_secret_hash(&hash_secret(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_matrix() {
        use Permission::*;
        for role in [Role::Uploader, Role::Analyst, Role::Reviewer, Role::Admin] {
            assert!(allows(role, Read));
            assert_eq!(allows(role, Admin), role == Role::Admin);
        }
        assert!(allows(Role::Uploader, Upload));
        assert!(!allows(Role::Analyst, Upload));
        assert!(!allows(Role::Reviewer, Upload));
        assert!(allows(Role::Reviewer, Review));
        assert!(!allows(Role::Analyst, Review));
        assert!(allows(Role::Analyst, Analyze));
        assert!(!allows(Role::Uploader, Analyze));
    }

    #[test]
    fn tokens_round_trip_through_a_real_store_and_only_the_hash_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let secret = create_token(&store, "ci", Role::Uploader, "cli").unwrap();
        let found = authenticate(&store, &secret).unwrap().unwrap();
        assert_eq!(found.role, Role::Uploader);
        assert_ne!(found.secret_sha256, secret);
        assert!(authenticate(&store, "swt_nope").unwrap().is_none());
        assert!(
            create_token(&store, "ci", Role::Admin, "cli").is_err(),
            "names are unique"
        );
        assert!(create_token(&store, "bad name", Role::Admin, "cli").is_err());
        store.revoke_token("ci", "cli").unwrap();
        assert!(authenticate(&store, &secret).unwrap().is_none());
        assert!(store.verify_audit().unwrap().first_broken.is_none());
    }
}
