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

use handover_doctor::queue::Source;
use handover_doctor::roles::Role;
use serde_json::{Value, json};

use crate::support::app::{self, TestApp};

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

    /// The diagnoses of `conversations`, by conversation id, as the worker published them
    /// (`P.reports` has a single active consumer: it is read by consuming).
    async fn diagnoses(&self, conversations: &[String]) -> HashMap<String, Value> {
        let mut consumer = self
            .receiver
            .queue
            .consume(Source::Reports, 50)
            .await
            .unwrap();
        let mut got: HashMap<String, Value> = HashMap::new();
        let waited = tokio::time::timeout(Duration::from_secs(90), async {
            while !conversations.iter().all(|c| got.contains_key(c)) {
                let Some(delivery) = consumer.next().await else {
                    break;
                };
                let d: Value = serde_json::from_slice(&delivery.body).unwrap();
                delivery.ack().await;
                got.insert(d["conversationId"].as_str().unwrap().to_string(), d);
            }
        })
        .await;
        let missing: Vec<&String> = conversations
            .iter()
            .filter(|c| !got.contains_key(*c))
            .collect();
        assert!(
            waited.is_ok() && missing.is_empty(),
            "no diagnosis within 90 s for {missing:?}"
        );
        got
    }

    async fn stop(self) {
        self.worker.stop().await;
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

// ---- transformer.js ----

const EXTENSION_FAILURE: &str = "Something is not working. Please retry.";

/// A flow output as the transformer gets it, with the processed output the endpoint would
/// send (what a pass-through must return unchanged).
fn output(session: &str, text: Option<&str>, data: Value) -> Value {
    let processed = json!({"text": text, "data": data, "marker": format!("processed-{session}")});
    json!({
        "sessionId": session,
        "output": {"text": text, "data": data},
        "processedOutput": processed,
    })
}

async fn run_transformer(url: &str, outputs: Vec<Value>) -> Vec<Value> {
    run_transformer_with(url, SECRET, outputs).await
}

async fn run_transformer_with(url: &str, secret: &str, outputs: Vec<Value>) -> Vec<Value> {
    let job = json!({
        "transformer": root().join("integrations/cognigy/transformer.js"),
        "url": url,
        "secret": secret,
        "outputs": outputs,
    });
    node("transformer", job).await.as_array().unwrap().clone()
}

#[tokio::test]
async fn the_transformer_reports_signed_and_passes_the_conversation_through() {
    let stack = Stack::start("cognigy-transformer").await;
    // The flow's own report (v1.0.18's object result, sent through the transformer),
    // then the extension's failure output of each throwing version, then a plain output.
    let flow_event = json!({
        "eventId": "tr-flow-1:1",
        "occurredAt": chrono::Utc::now().to_rfc3339(),
        "flow": {"endpointType": "voiceGateway2", "channel": "voice"},
        "cxone": {"businessUnit": "4601234", "masterContactId": "745512890101", "contactId": "745512890123"},
        "handover": {
            "mechanism": "cxone_signal",
            "signalResult": {"success": false, "action": "Escalate", "contactId": "745512890123",
                             "error": "CXone API Client: Error sending handover signal: 403: Forbidden"}
        }
    });
    let cases: Vec<(Value, Option<&str>)> = vec![
        (
            output("tr-flow-1", None, json!({"_handoverFailure": flow_event})),
            Some("HD104"),
        ),
        (
            output(
                "tr-v1011-forbidden",
                Some(EXTENSION_FAILURE),
                json!({"error": "CXone API Client: Error sending handover signal: 403: Forbidden"}),
            ),
            Some("HD104"),
        ),
        (
            output(
                "tr-v109-token",
                Some(EXTENSION_FAILURE),
                json!({"error": "CXone -> getToken: Error getting bearer token: 401: Unauthorized"}),
            ),
            Some("HD103"),
        ),
        (
            output(
                "tr-v109-action",
                Some("handoverToCXone Error: Missing Action parameter"),
                json!({"error": "Missing Action parameter"}),
            ),
            Some("HD111"),
        ),
        (
            output(
                "tr-v1011-action",
                Some("handoverToCXone Error: Missing or invalid Action parameter"),
                json!({"error": "Missing or invalid Action parameter"}),
            ),
            Some("HD111"),
        ),
        (
            output("tr-v121-no-reason", Some(EXTENSION_FAILURE), Value::Null),
            Some("HD106"),
        ),
        (
            output("tr-plain", Some("Let me connect you."), json!({"x": 1})),
            None,
        ),
    ];
    let results = run_transformer(
        &stack.receiver.webhook(),
        cases.iter().map(|(o, _)| o.clone()).collect(),
    )
    .await;

    let mut reported = Vec::new();
    for ((case, want), r) in cases.iter().zip(&results) {
        let session = case["sessionId"].as_str().unwrap();
        assert!(r["threw"].is_null(), "{session}: {r}");
        let requests = r["requests"].as_array().unwrap();
        match want {
            Some(_) => {
                assert_eq!(requests.len(), 1, "{session}: one report: {r}");
                // Only signed requests are accepted here: the receiver holds an HMAC secret
                // and an API key, and the transformer sends no key.
                assert_eq!(requests[0]["status"], 202, "{session}: {r}");
                reported.push(session.to_string());
            }
            None => assert!(requests.is_empty(), "{session}: {r}"),
        }
        if case["output"]["data"].get("_handoverFailure").is_some() {
            assert!(
                r["returned"].is_null(),
                "{session}: a report is not spoken: {r}"
            );
        } else {
            assert_eq!(
                r["returned"], case["processedOutput"],
                "{session}: passed through unchanged"
            );
        }
    }

    // The same report signed with another secret is refused, and the caller still hears
    // the extension's output: the 202s above are verified signatures.
    let wrong = run_transformer_with(
        &stack.receiver.webhook(),
        "not-the-secret",
        vec![cases[1].0.clone()],
    )
    .await;
    assert_eq!(wrong[0]["requests"][0]["status"], 401, "{}", wrong[0]);
    assert!(
        wrong[0]["requests"][0]["body"]
            .as_str()
            .unwrap()
            .contains("invalid_signature"),
        "{}",
        wrong[0]
    );
    assert_eq!(wrong[0]["returned"], cases[1].0["processedOutput"]);

    let diagnoses = stack.diagnoses(&reported).await;
    for (case, want) in &cases {
        let Some(want) = want else { continue };
        let session = case["sessionId"].as_str().unwrap();
        let d = &diagnoses[session];
        assert_eq!(d["verdict"]["code"], *want, "{session}: {d}");
        assert!(
            !codes(d).contains(&"HD101".to_string()),
            "{session}: a CXone error proves the ids: {d}"
        );
        if case["output"]["data"].get("_handoverFailure").is_none() {
            assert!(
                !codes(d).contains(&"HD109".to_string()),
                "{session}: the transformer never sees the context: {d}"
            );
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn an_unreachable_service_never_breaks_the_conversation() {
    // A port nobody listens on, and a server that accepts but never answers.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            open.push(sock);
        }
    });
    let cases = || {
        vec![
            output(
                "un-1",
                Some(EXTENSION_FAILURE),
                json!({"error": "CXone -> sendSignalHandover: Error sending signal: 403: Forbidden"}),
            ),
            output(
                "un-2",
                None,
                json!({"_handoverFailure": {"handover": {"extensionError": "x"}}}),
            ),
        ]
    };
    for url in [
        format!("http://{closed}/webhooks/cognigy/handover"),
        format!("http://{silent_addr}/webhooks/cognigy/handover"),
    ] {
        let results = run_transformer(&url, cases()).await;
        for (case, r) in cases().iter().zip(&results) {
            assert!(r["threw"].is_null(), "{url}: {r}");
            // The transformer's request timeout is 3 s; a caller never waits much longer.
            assert!(r["elapsedMs"].as_u64().unwrap() < 4500, "{url}: {r}");
            if case["output"]["data"].get("_handoverFailure").is_some() {
                assert!(r["returned"].is_null());
            } else {
                assert_eq!(r["returned"], case["processedOutput"], "{url}: {r}");
            }
        }
    }
    held.abort();
}

// ---- http-request-payload.json ----

/// The Cognigy objects a flow has when its HTTP Request node runs after Exit Interaction.
fn scope(
    session: &str,
    context_extra: Value,
    extension_error: Option<&str>,
    data: Option<Value>,
) -> (Value, Value) {
    let mut input = json!({
        "sessionId": session,
        "inputId": "7f3c2a10-5b1e-4c55-9a0e-2f1d3c4b5a69",
        "currentTime": {"ISODate": chrono::Utc::now().to_rfc3339()},
        "traceId": format!("trace-{session}"),
        "entrypoint": "64f1c2a9e8b7d6c5b4a39281",
        "flowName": "Support Main Voice",
        "endpointType": "voiceGateway2",
        "channel": "voiceGateway2",
    });
    if let Some(m) = extension_error {
        input["extensionError"] = json!({"message": m});
    }
    if let Some(d) = data {
        input["data"] = d;
    }
    let mut context = json!({
        "data": {"businessUnit": "4601234", "contactId": "745512890101", "spawnedContactId": "745512890123"},
        "routingData": {"skill": "Support_Voice_EN", "intent": "billing_question"},
        "customerInfo": {"tier": "gold"},
    });
    for (k, v) in context_extra.as_object().unwrap() {
        context[k] = v.clone();
    }
    (input, context)
}

#[tokio::test]
async fn the_payload_template_renders_a_valid_event_for_every_extension_version() {
    let stack = Stack::start("cognigy-payload").await;
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("integrations/cognigy/http-request-payload.json"))
            .unwrap(),
    )
    .unwrap();
    let e = "Error signaling CXone with: 'Escalate' for contactId: 745512890123; error: ";
    // (session, context.CXoneHandover / CXoneSendSignal, input.extensionError, verdict)
    let cases: Vec<(&str, Value, Option<&str>, &str)> = vec![
        (
            "pl-v109-ok",
            json!({"CXoneHandover": "Signaled CXone with: 'Escalate' for contactId: 745512890123"}),
            None,
            "HD402",
        ),
        (
            "pl-v109-token",
            json!({"CXoneHandover": format!("{e}CXone -> getToken: Error getting bearer token: 400: Bad Request")}),
            None,
            "HD103",
        ),
        (
            "pl-v1011-forbidden",
            json!({"CXoneHandover": format!("{e}CXone API Client: Error sending handover signal: 403: Forbidden")}),
            None,
            "HD104",
        ),
        (
            "pl-v1018-ok",
            json!({"CXoneHandover": {"success": true, "action": "Escalate", "contactId": "745512890123", "status": 202}}),
            None,
            "HD402",
        ),
        (
            "pl-v1018-bad",
            json!({"CXoneHandover": {"success": false, "action": "Escalate", "contactId": "745512890123", "error": "CXone API Client: Error sending handover signal: 400: Bad Request"}}),
            None,
            "HD105",
        ),
        (
            "pl-v1018-validation",
            json!({"CXoneHandover": {"success": false, "stage": "validation", "error": "Missing or invalid Action parameter"}}),
            None,
            "HD111",
        ),
        (
            "pl-v121-notfound",
            json!({"CXoneHandover": format!("{e}CXone -> sendSignalHandover: Error sending signal: 404: Not Found")}),
            None,
            "HD105",
        ),
        (
            "pl-signal-node",
            json!({"CXoneSendSignal": "Error signaling '[\"Escalate\"]' for contactId: 745512890123; error: CXone -> sendSignal: Error sending signal: 403: Forbidden"}),
            None,
            "HD104",
        ),
        (
            "pl-timeout",
            json!({}),
            Some("Extension Node execution timed out after 20000ms"),
            "HD106",
        ),
    ];
    // Voice Gateway events as Cognigy documents them, reaching the same payload.
    let voice_cases: Vec<(&str, Value, &str)> = vec![
        (
            "pl-vg-busy",
            json!({"event": "USER_BUSY", "payload": {"call_sid": "e234f07d", "sip_status": 603, "sip_reason": "Decline", "call_status": "busy"}}),
            "HD108",
        ),
        (
            "pl-vg-refer-target-busy",
            json!({"event": "TRANSFER_REFER_SUCCESS", "payload": {"sip_status": 200, "sip_reason": "OK", "call_status": "in-progress", "refer_status": 202, "final_referred_call_status": 486}}),
            "HD108",
        ),
    ];
    let mut sessions = Vec::new();
    for (session, data, _) in &voice_cases {
        let (input, context) = scope(session, json!({}), None, Some(data.clone()));
        let body = node(
            "render",
            json!({"template": template, "input": input, "context": context}),
        )
        .await;
        let (status, answer) = stack.post_with_key(body.to_string().as_bytes()).await;
        assert_eq!(status, 202, "{session}: {answer}\n{body}");
        sessions.push(session.to_string());
    }
    for (session, extra, ext, _) in &cases {
        let (input, context) = scope(session, extra.clone(), *ext, None);
        let body = node(
            "render",
            json!({"template": template, "input": input, "context": context}),
        )
        .await;
        // What the $cs form keeps typed: v1.0.18's object arrives as an object.
        if extra["CXoneHandover"].is_object() {
            assert!(body["handover"]["signalResult"].is_object(), "{body}");
        }
        let (status, answer) = stack.post_with_key(body.to_string().as_bytes()).await;
        assert_eq!(status, 202, "{session}: {answer}\n{body}");
        sessions.push(session.to_string());
    }

    // The object put inline instead, as a flow author might: accepted, and HD112 says
    // which field and what to write instead.
    let mut inline = template.clone();
    inline["handover"]["signalResult"] = json!("{{context.CXoneHandover}}");
    let (input, context) = scope("pl-v1018-inline", cases[4].1.clone(), None, None);
    let body = node(
        "render",
        json!({"template": inline, "input": input, "context": context}),
    )
    .await;
    assert_eq!(body["handover"]["signalResult"], "[object Object]");
    let (status, answer) = stack.post_with_key(body.to_string().as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    sessions.push("pl-v1018-inline".to_string());

    let diagnoses = stack.diagnoses(&sessions).await;
    for (session, _, _, want) in &cases {
        let d = &diagnoses[*session];
        assert_eq!(d["verdict"]["code"], *want, "{session}: {d}");
    }
    for (session, _, want) in &voice_cases {
        let d = &diagnoses[*session];
        assert_eq!(d["verdict"]["code"], *want, "{session}: {d}");
    }
    let refer = diagnoses["pl-vg-refer-target-busy"]["findings"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        refer.contains("accepted (202)") && refer.contains("486"),
        "{refer}"
    );
    let d = &diagnoses["pl-v1018-inline"];
    assert_eq!(d["verdict"]["code"], "HD112", "{d}");
    let fix = d["findings"][0]["fix"].as_str().unwrap();
    assert!(
        fix.contains("handover.signalResult") && fix.contains("$cs"),
        "{fix}"
    );
    stack.stop().await;
}
