//! `replay`: POST webhook payload files to a receiver, authenticated like a real flow.
//!
//! The signature (when `WEBHOOK_SIGNING_SECRETS` is set) is computed at send time over the
//! file's exact bytes, so fixtures never go stale; otherwise the first API key is sent.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};

use crate::receiver::auth::{COGNIGY_SIGNATURE, COGNIGY_TIMESTAMP, SigningKey};

/// How replayed requests authenticate.
#[derive(Clone)]
pub enum ReplayAuth {
    /// Cognigy HMAC with this key.
    Sign(SigningKey),
    /// `X-API-Key`.
    ApiKey(SecretString),
    /// Nothing (a receiver without credentials on loopback).
    None,
}

impl ReplayAuth {
    /// The first signing secret, else the first API key, else nothing.
    ///
    /// # Errors
    /// A signing secret that cannot be decoded.
    pub fn from_config(signing: &[SecretString], keys: &[SecretString]) -> Result<Self, String> {
        if let Some(s) = signing.first() {
            return Ok(ReplayAuth::Sign(SigningKey::parse(s.expose_secret())?));
        }
        Ok(keys
            .first()
            .map(|k| ReplayAuth::ApiKey(k.clone()))
            .unwrap_or(ReplayAuth::None))
    }
}

/// The outcome of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayLine {
    /// The file.
    pub path: PathBuf,
    /// The HTTP status, or `None` when the request failed.
    pub status: Option<u16>,
    /// The answer's body (error detail) or the transport error.
    pub detail: String,
}

impl ReplayLine {
    /// True for a 2xx answer.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Expands files and folders (every `*.json` directly inside, sorted) into a file list.
///
/// # Errors
/// A path that does not exist, or a folder without JSON files.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read folder {}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "json"))
                .collect();
            if files.is_empty() {
                return Err(format!("{} holds no *.json files", p.display()));
            }
            files.sort();
            out.extend(files);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{} does not exist", p.display()));
        }
    }
    Ok(out)
}

/// Sends every file, `concurrency` at a time, writing one line per file (in input order)
/// to `out`. Shows a progress bar on a terminal when there are many files.
///
/// # Errors
/// Writing to `out` failed.
pub async fn replay(
    url: &str,
    files: Vec<PathBuf>,
    concurrency: usize,
    auth: &ReplayAuth,
    out: &mut (dyn Write + Send),
) -> std::io::Result<Vec<ReplayLine>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(std::io::Error::other)?;
    let bar = (files.len() > 20 && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(files.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} sent, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut results = futures_util::stream::iter(files)
        .map(|path| {
            let client = client.clone();
            async move { send_one(&client, url, path, auth).await }
        })
        .buffered(concurrency.max(1));
    let mut lines = Vec::new();
    while let Some(line) = results.next().await {
        let status = line
            .status
            .map_or_else(|| "ERR".to_string(), |s| s.to_string());
        let msg = if line.ok() {
            String::new()
        } else {
            format!("  {}", line.detail)
        };
        match &bar {
            Some(b) => {
                b.inc(1);
                if !line.ok() {
                    b.println(format!("{status} {}{msg}", line.path.display()));
                }
            }
            None => writeln!(out, "{status} {}{msg}", line.path.display())?,
        }
        lines.push(line);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
        let ok = lines.iter().filter(|l| l.ok()).count();
        writeln!(out, "{ok} of {} accepted", lines.len())?;
    }
    Ok(lines)
}

async fn send_one(
    client: &reqwest::Client,
    url: &str,
    path: PathBuf,
    auth: &ReplayAuth,
) -> ReplayLine {
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            return ReplayLine {
                path,
                status: None,
                detail: format!("cannot read: {e}"),
            };
        }
    };
    let mut req = client.post(url).header("content-type", "application/json");
    match auth {
        ReplayAuth::Sign(key) => {
            let ts = chrono::Utc::now().timestamp();
            req = req
                .header(COGNIGY_TIMESTAMP, ts.to_string())
                .header(COGNIGY_SIGNATURE, key.sign_cognigy(ts, &body));
        }
        ReplayAuth::ApiKey(k) => req = req.header("x-api-key", k.expose_secret()),
        ReplayAuth::None => {}
    }
    match req.body(body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let detail = resp.text().await.unwrap_or_default();
            ReplayLine {
                path,
                status: Some(status),
                detail,
            }
        }
        Err(e) => ReplayLine {
            path,
            status: None,
            detail: transport_error(&e),
        },
    }
}

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "cannot connect: is `handover-doctor serve` running at that address?".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        e.to_string()
    }
}

/// The headers that make `body` a valid signed request now (`sign`).
pub fn sign_headers(key: &SigningKey, body: &[u8], now_unix: i64) -> String {
    format!(
        "X-Cognigy-Timestamp: {now_unix}\nX-Cognigy-Signature: {}\n",
        key.sign_cognigy(now_unix, body)
    )
}

/// Reads a file for `sign`, naming it in the error.
///
/// # Errors
/// The file cannot be read.
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
