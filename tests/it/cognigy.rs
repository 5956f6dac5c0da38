//! What a Cognigy flow really sends, end to end: every sample webhook of
//! `fixtures/webhooks/` through `diagnose --payload` and through the receiver, RabbitMQ and
//! the worker; `integrations/cognigy/transformer.js` run under Node in a sandbox holding what
//! Cognigy's transformer sandbox documents, against the real receiver (signature verified);
//! and `integrations/cognigy/http-request-payload.json` rendered with every extension
//! version's result and posted. Node is required: these tests fail without it, they never
//! skip (`.ci/run` installs `nodejs`).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use handover_doctor::roles::Role;
use serde_json::{Value, json};

use crate::support::app::{self, TestApp};
use crate::support::broker;

const SECRET: &str = "cognigy-transformer-secret";
const KEY: &str = "key-1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/it/cognigy/sandbox.js <mode>` with `job` on its standard input, off the
/// async runtime (the receiver it talks to runs on that runtime).
async fn node(mode: &'static str, job: Value) -> Value {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("node")
            .arg(root().join("tests/it/cognigy/sandbox.js"))
            .arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("Node.js is required to test the Cognigy assets, and `node` could not be started ({e}): install nodejs (Node 18 or later)")
            });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(job.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "node sandbox.js {mode} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "node sandbox.js {mode} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    })
    .await
    .unwrap()
}

/// A receiver (HMAC secret and API key configured, nothing unauthenticated accepted) and a
/// worker without CXone credentials on one queue prefix, and no notifier: the diagnoses stay
/// in `P.reports`, where the test reads them.
struct Stack {
    receiver: TestApp,
    worker: TestApp,
}

impl Stack {
    async fn start(test: &str) -> Stack {
        let vars = [
            ("WEBHOOK_SIGNING_SECRETS", SECRET),
            ("WEBHOOK_API_KEYS", KEY),
        ];
        let (settings, prefix) = app::settings(test, &vars);
        let receiver = app::spawn_with(settings, prefix.clone(), Role::Receiver, true).await;
        let mut worker_vars = vars.to_vec();
        worker_vars.push(("QUEUE_PREFIX", prefix.as_str()));
        let (settings, _) = app::settings(test, &worker_vars);
        let worker = app::spawn_with(settings, prefix, Role::Worker, true).await;
        Stack { receiver, worker }
    }

    async fn post_with_key(&self, body: &[u8]) -> (u16, String) {
        let r = self
            .receiver
            .client
            .post(self.receiver.webhook())
            .header("content-type", "application/json")
            .header("x-api-key", KEY)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The diagnoses of `conversations`, by conversation id, as the worker published them.
    async fn diagnoses(&self, conversations: &[String]) -> HashMap<String, Value> {
        let queue = format!("{}.reports", self.receiver.prefix);
        let mut got: HashMap<String, Value> = HashMap::new();
        let waited = tokio::time::timeout(Duration::from_secs(60), async {
            while !conversations.iter().all(|c| got.contains_key(c)) {
                for body in broker::drain(&queue).await {
                    let d: Value = serde_json::from_slice(&body).unwrap();
                    got.insert(d["conversationId"].as_str().unwrap().to_string(), d);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        if waited.is_err() {
            let missing: Vec<&String> = conversations
                .iter()
                .filter(|c| !got.contains_key(*c))
                .collect();
            panic!("no diagnosis within 60 s for {missing:?}");
        }
        got
    }

    async fn stop(self) {
        self.worker.shutdown.cancel();
        self.receiver.stop().await;
    }
}

/// `(file, verdict without CXone)` for every row of `fixtures/webhooks/README.md`.
fn readme_rows() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(root().join("fixtures/webhooks/README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let want = cells[3].split_whitespace().next().unwrap().to_string();
            (cells[1].trim_matches('`').to_string(), want)
        })
        .collect()
}

fn diagnose_payload(file: &Path) -> Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_handover-doctor"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CXONE_") || k == "AMQP_URL" {
            c.env_remove(k);
        }
    }
    let out = c
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "error")
        .args(["diagnose", "--payload"])
        .arg(file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "diagnose --payload {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn codes(d: &Value) -> Vec<String> {
    d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_sample_webhook_gets_its_readme_verdict_from_diagnose_payload_and_through_the_queue()
{
    let rows = readme_rows();
    assert!(rows.len() >= 40, "only {} README rows", rows.len());
    let dir = root().join("fixtures/webhooks");

    let cli = {
        let (dir, rows) = (dir.clone(), rows.clone());
        tokio::task::spawn_blocking(move || {
            rows.iter()
                .map(|(file, _)| (file.clone(), diagnose_payload(&dir.join(file))))
                .collect::<HashMap<_, _>>()
        })
        .await
        .unwrap()
    };

    let stack = Stack::start("cognigy-samples").await;
    let mut conversations = Vec::new();
    let mut by_file = Vec::new();
    for (file, _) in &rows {
        let body = std::fs::read(dir.join(file)).unwrap();
        let (status, answer) = stack.post_with_key(&body).await;
        assert_eq!(status, 202, "{file}: {answer}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        let conversation = v["conversationId"].as_str().unwrap().to_string();
        assert!(
            !conversations.contains(&conversation),
            "{file}: conversationId {conversation} is not unique among the samples"
        );
        conversations.push(conversation.clone());
        by_file.push(conversation);
    }
    let queued = stack.diagnoses(&conversations).await;
    stack.stop().await;

    let mut wrong = Vec::new();
    for ((file, want), conversation) in rows.iter().zip(&by_file) {
        let from_cli = &cli[file];
        let from_queue = &queued[conversation];
        for (how, d) in [("diagnose --payload", from_cli), ("the queue", from_queue)] {
            if d["verdict"]["code"] != want.as_str() {
                wrong.push(format!(
                    "{file} via {how}: expected {want}, got {} {:?}",
                    d["verdict"]["code"],
                    codes(d)
                ));
            }
        }
        assert_eq!(
            codes(from_cli),
            codes(from_queue),
            "{file}: the CLI and the worker diagnose the same"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
