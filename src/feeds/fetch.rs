//! HTTP fetching for feeds (reqwest over rustls): timeouts, conditional requests (ETag /
//! Last-Modified, 304), retries with exponential backoff and jitter (honouring `Retry-After`),
//! and a hard cap on the bytes read. The caller gets a complete body or an error, never a part.

use crate::store::FeedValidator;
use futures_util::StreamExt;
use reqwest::header::{
    HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use reqwest::StatusCode;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub connect_timeout: Duration,
    /// Longest silence while reading a response (headers or body).
    pub read_timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff; doubled per retry, plus up to the same again as jitter.
    pub backoff: Duration,
    /// Longest `Retry-After` we are willing to wait inside one run.
    pub max_retry_after: Duration,
    pub max_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            retries: 3,
            backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(120),
            max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP {status} after {attempts} attempt(s)")]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("{url}: {message} after {attempts} attempt(s)")]
    Transport {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("{url}: response larger than the {max}-byte cap")]
    TooLarge { url: String, max: u64 },
    #[error("HTTP client: {0}")]
    Client(String),
}

pub enum Fetched {
    /// 304: our last good copy is current.
    NotModified,
    Body {
        bytes: Vec<u8>,
        validator: FeedValidator,
    },
}

pub struct Fetcher {
    client: reqwest::Client,
    opts: FetchOptions,
}

enum Attempt {
    Done(reqwest::Response),
    Retry { wait: Option<Duration>, why: String },
    Fail(FetchError),
}

impl Fetcher {
    pub fn new(opts: FetchOptions) -> Result<Fetcher, FetchError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .user_agent(concat!("soupwatch/", env!("CARGO_PKG_VERSION")))
            .gzip(true)
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher { client, opts })
    }

    /// A conditional GET of a document feed.
    pub async fn get(
        &self,
        url: &str,
        prev: Option<&FeedValidator>,
    ) -> Result<Fetched, FetchError> {
        let mut headers = HeaderMap::new();
        if let Some(v) = prev {
            if let Some(etag) = v.etag.as_deref().and_then(|e| e.parse().ok()) {
                headers.insert(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = v.last_modified.as_deref().and_then(|e| e.parse().ok()) {
                headers.insert(IF_MODIFIED_SINCE, lm);
            }
        }
        let resp = self.send(url, headers, false).await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validator = FeedValidator {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let bytes = self.body(url, resp).await?;
        Ok(Fetched::Body { bytes, validator })
    }

    /// A GET of an API page (NVD): 403 and 503 are rate limiting there, so they back off too.
    pub async fn get_api(
        &self,
        url: &str,
        auth: Option<(&str, &str)>,
    ) -> Result<Vec<u8>, FetchError> {
        let mut headers = HeaderMap::new();
        if let Some((name, value)) = auth {
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        let resp = self.send(url, headers, true).await?;
        self.body(url, resp).await
    }

    async fn send(
        &self,
        url: &str,
        headers: HeaderMap,
        forbidden_is_throttle: bool,
    ) -> Result<reqwest::Response, FetchError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = match self.client.get(url).headers(headers.clone()).send().await {
                Ok(resp) => classify(url, resp, attempt, forbidden_is_throttle),
                Err(e) => Attempt::Retry {
                    wait: None,
                    why: describe(&e),
                },
            };
            match outcome {
                Attempt::Done(r) => return Ok(r),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { wait, why } => {
                    if attempt > self.opts.retries {
                        return Err(
                            match why.strip_prefix("HTTP ").and_then(|s| s.parse().ok()) {
                                Some(status) => FetchError::Status {
                                    url: url.to_string(),
                                    status,
                                    attempts: attempt,
                                },
                                None => FetchError::Transport {
                                    url: url.to_string(),
                                    message: why,
                                    attempts: attempt,
                                },
                            },
                        );
                    }
                    let delay = wait
                        .map(|w| w.min(self.opts.max_retry_after))
                        .unwrap_or_else(|| backoff(self.opts.backoff, attempt));
                    tracing::warn!(url, attempt, reason = %why, delay_ms = delay.as_millis() as u64, "fetch failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn body(&self, url: &str, resp: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let max = self.opts.max_bytes;
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                max,
            });
        }
        let mut out = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Transport {
                url: url.to_string(),
                message: format!("body interrupted: {}", describe(&e)),
                attempts: 1,
            })?;
            if out.len() as u64 + chunk.len() as u64 > max {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    max,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

fn classify(
    url: &str,
    resp: reqwest::Response,
    attempt: u32,
    forbidden_is_throttle: bool,
) -> Attempt {
    let status = resp.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Attempt::Done(resp);
    }
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let throttled = status == StatusCode::TOO_MANY_REQUESTS
        || (forbidden_is_throttle && status == StatusCode::FORBIDDEN);
    if throttled || status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Attempt::Retry {
            wait: retry_after,
            why: format!("HTTP {}", status.as_u16()),
        }
    } else {
        Attempt::Fail(FetchError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            attempts: attempt,
        })
    }
}

/// base * 2^(attempt-1), plus up to as much again as jitter, capped at a minute.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
    let mut r = [0u8; 4];
    let jitter_frac = if getrandom::fill(&mut r).is_ok() {
        f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX)
    } else {
        0.5
    };
    exp.mul_f64(1.0 + jitter_frac).min(Duration::from_secs(60))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("cannot connect ({e})")
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for attempt in 1..6 {
            let d = backoff(base, attempt);
            let floor = base * (1 << (attempt - 1));
            assert!(d >= floor && d <= floor * 2, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(Duration::from_secs(30), 10) <= Duration::from_secs(60));
    }
}
