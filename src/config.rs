//! Configuration: `config/soupwatch.toml` read into typed settings, with command-line flags
//! layered on top by the CLI. Every setting has a default, so the daemon runs with no file.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub ingest: IngestConfig,
    pub feeds: FeedsConfig,
    pub log: LogConfig,
    pub triage: TriageConfig,
    pub notify: crate::notify::NotifyConfig,
    pub exports: ExportsConfig,
}

/// `[exports]`: who publishes the VEX and CSAF documents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportsConfig {
    /// Manufacturer named as VEX/CSAF publisher.
    pub publisher_name: String,
    /// A URL the manufacturer controls (CSAF `publisher.namespace`).
    pub publisher_namespace: String,
    pub publisher_contact: Option<String>,
}

impl Default for ExportsConfig {
    fn default() -> Self {
        ExportsConfig {
            publisher_name: "Device manufacturer".into(),
            publisher_namespace: "https://example.invalid".into(),
            publisher_contact: None,
        }
    }
}

impl ExportsConfig {
    pub fn publisher(&self) -> crate::exports::Publisher {
        crate::exports::Publisher {
            name: self.publisher_name.clone(),
            namespace: self.publisher_namespace.clone(),
            contact: self.publisher_contact.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// Regulatory rules file; the shipped rules are compiled in and used when it is missing.
    pub rules: PathBuf,
    /// Device records, one `*.toml` per product, loaded at start-up.
    pub products: PathBuf,
    /// SOUP registers, one `*.toml` per product, loaded at start-up.
    pub soup: PathBuf,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            rules: PathBuf::from("config/rules.toml"),
            products: PathBuf::from("config/products"),
            soup: PathBuf::from("config/soup"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Upper bound on concurrent SBOM parses, each of which can take ~10x the document in memory.
    pub max_parallel_ingest: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Refuse documents that are invalid against their schema (true) or keep the errors as warnings.
    pub strict: bool,
    /// Uploads over this size are refused with 413 before parsing.
    pub max_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsConfig {
    /// Folder of feed definitions (`*.toml`, one feed each).
    pub definitions: PathBuf,
    /// Air-gapped mirror folder: when set, every feed reads from here instead of the network.
    pub mirror: Option<PathBuf>,
    /// Bundled offline snapshot (mirror layout) loaded into an empty store at first start.
    pub snapshot: Option<PathBuf>,
    /// Run scheduled feed syncs inside the daemon.
    pub schedule: bool,
    /// NVD API key (else `NVD_API_KEY`).
    pub nvd_api_key: Option<String>,
    /// Longest silence while reading a feed response.
    pub fetch_timeout_secs: u64,
    /// Retries after a failed download (timeouts, 5xx, 429), with exponential backoff.
    pub fetch_retries: u32,
    /// First backoff delay; doubled per retry, plus jitter.
    pub fetch_backoff_ms: u64,
    /// Largest download accepted from any feed.
    pub max_download_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log shippers.
    pub format: LogFormat,
    /// tracing `EnvFilter` directive; `RUST_LOG` wins when set.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_parallel_ingest: 2,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from("./data"),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            strict: true,
            max_bytes: 50 * 1024 * 1024,
        }
    }
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            definitions: PathBuf::from("feeds"),
            mirror: None,
            snapshot: Some(PathBuf::from("feeds/snapshot")),
            schedule: true,
            nvd_api_key: None,
            fetch_timeout_secs: 60,
            fetch_retries: 3,
            fetch_backoff_ms: 2000,
            max_download_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl FeedsConfig {
    pub fn fetch_options(&self) -> crate::feeds::fetch::FetchOptions {
        use std::time::Duration;
        crate::feeds::fetch::FetchOptions {
            read_timeout: Duration::from_secs(self.fetch_timeout_secs.max(1)),
            retries: self.fetch_retries,
            backoff: Duration::from_millis(self.fetch_backoff_ms),
            max_bytes: self.max_download_bytes,
            ..Default::default()
        }
    }

    /// The API key from the config, else from `NVD_API_KEY`.
    pub fn nvd_key(&self) -> Option<String> {
        self.nvd_api_key
            .clone()
            .filter(|k| !k.is_empty())
            .or_else(|| std::env::var("NVD_API_KEY").ok().filter(|k| !k.is_empty()))
    }
}

impl Config {
    /// Reads a config file; relative paths inside it stay relative to the working directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_config_parses_and_matches_builtin_defaults() {
        let text = include_str!("../config/soupwatch.toml");
        let c = Config::parse(text).expect("config/soupwatch.toml parses");
        let d = Config::default();
        assert_eq!(c.server.listen, d.server.listen);
        assert_eq!(c.store.data_dir, d.store.data_dir);
        assert_eq!(c.ingest.strict, d.ingest.strict);
        assert_eq!(c.ingest.max_bytes, d.ingest.max_bytes);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = Config::parse("[ingest]\nstrikt = false\n").unwrap_err();
        assert!(err.contains("strikt"), "{err}");
    }
}
