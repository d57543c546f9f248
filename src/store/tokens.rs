//! API tokens: stored by name with the SHA-256 of the secret, never the secret itself.

use super::{abort, Result, Store, StoreError, T};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a token may do. Admin may do everything; every role may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Release pipelines: upload SBOMs.
    Uploader,
    /// Post-market security: SOUP records, ticket transitions.
    Analyst,
    /// Regulatory staff: sign off decisions.
    Reviewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Uploader => "uploader",
            Role::Analyst => "analyst",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the secret: enough to recognise it, useless to an attacker who reads the store.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub secret_sha256: String,
    pub created_at: DateTime<Utc>,
    /// Who made it (a token name, or `cli` for the offline command).
    pub created_by: String,
}

impl TokenRecord {
    /// The record as shown to users: without the hash.
    pub fn public(&self) -> TokenRecord {
        TokenRecord {
            secret_sha256: String::new(),
            ..self.clone()
        }
    }
}

impl Store {
    /// Stores a new token; refuses a name already in use. Audited in the same transaction.
    pub fn create_token(&self, rec: &TokenRecord) -> Result<()> {
        let name_key = rec.name.as_bytes();
        self.transact(|tx| {
            if tx.get_raw(T::Tokens, name_key)?.is_some() {
                return Err(abort(StoreError::Conflict(format!(
                    "a token named {:?} already exists",
                    rec.name
                ))));
            }
            tx.put_json(T::Tokens, name_key, rec)?;
            tx.put_raw(T::TokenHashes, rec.secret_sha256.as_bytes(), name_key)?;
            super::audit::append(
                tx,
                &rec.created_by,
                "token.create",
                &format!("token/{}", rec.name),
                None,
                Some(serde_json::json!({"name": rec.name, "role": rec.role})),
                None,
            )
        })
    }

    pub fn token_by_secret_hash(&self, sha256_hex: &str) -> Result<Option<TokenRecord>> {
        match self.tree(T::TokenHashes).get(sha256_hex.as_bytes())? {
            None => Ok(None),
            Some(name) => self.get_json(T::Tokens, &name),
        }
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(self
            .scan_json::<TokenRecord>(T::Tokens, b"")?
            .iter()
            .map(TokenRecord::public)
            .collect())
    }

    /// Removes a token so it stops working at once. Errors when no such token exists.
    pub fn revoke_token(&self, name: &str, by: &str) -> Result<()> {
        self.transact(|tx| {
            let Some(rec) = tx.get_json::<TokenRecord>(T::Tokens, name.as_bytes())? else {
                return Err(abort(StoreError::NotFound(format!(
                    "no token named {name:?}"
                ))));
            };
            tx.remove(T::Tokens, name.as_bytes())?;
            tx.remove(T::TokenHashes, rec.secret_sha256.as_bytes())?;
            super::audit::append(
                tx,
                by,
                "token.revoke",
                &format!("token/{name}"),
                Some(serde_json::json!({"name": rec.name, "role": rec.role})),
                None,
                None,
            )
        })
    }
}
