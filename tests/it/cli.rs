//! The binary's command line: exit codes, configuration errors that name the variable,
//! `.env` from the working directory, `sign` headers the receiver accepts, `replay` exit
//! codes, `serve`'s warnings and `--replay`, `check-config` probing the broker.
//!
//! The binary runs in an empty working directory with a cleared environment ([`bin`]): a
//! developer's `.env` in the checkout, or an exported `WEBHOOK_*`, must not change what a
//! test sees. Fixture paths are therefore absolute ([`fixture`]).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use handover_doctor::roles::Role;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::app;
use crate::support::broker;

/// An empty directory under cargo's per-target temp dir, made once.
fn empty_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-empty-cwd");
        std::fs::create_dir_all(&d).unwrap();
        let _ = std::fs::remove_file(d.join(".env"));
        d
    })
}

/// The binary, in an empty working directory, with nothing inherited but the coverage
/// profile path (when a coverage run sets one).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_handover-doctor"));
    c.current_dir(empty_dir())
        .env_clear()
        .env("RUST_LOG", "warn");
    if let Some(p) = std::env::var_os("LLVM_PROFILE_FILE") {
        c.env("LLVM_PROFILE_FILE", p);
    }
    c
}

/// A file under `fixtures/`, as an absolute path.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// A spawned long-running command (`serve`) whose standard error is read line by line.
/// Killed if the test fails before [`Served::stop`].
pub struct Served {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    seen: Vec<String>,
}

impl Served {
    /// Starts `cmd` with standard error piped.
    pub fn start(cmd: Command) -> Self {
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        Served {
            child,
            lines: BufReader::new(stderr).lines(),
            seen: Vec::new(),
        }
    }

    /// The first standard-error line containing `needle`, within `within`.
    pub async fn line_with(&mut self, needle: &str, within: Duration) -> String {
        let found = tokio::time::timeout(within, async {
            while let Ok(Some(line)) = self.lines.next_line().await {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "no line with {needle:?} on standard error; it said:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// SIGTERM, then waits for the exit (a drain is quick with nothing in flight).
    pub async fn stop(mut self) -> ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("serve stops within 30 s of SIGTERM")
            .unwrap()
    }
}

#[test]
fn bad_usage_exits_2_with_a_reason() {
    let out = bin()
        .args(["serve", "--role", "everything"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role"));
    let out = bin().arg("diagnose").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        "serve",
        "replay",
        "diagnose",
        "sign",
        "explain",
        "dead-letters",
        "scan",
        "check-config",
    ] {
        let out = bin().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{cmd}"
        );
    }
}

#[test]
fn a_configuration_error_names_the_variable_and_exits_2() {
    let out = bin()
        .arg("check-config")
        .env("WEBHOOK_TOLERANCE_SECS", "five minutes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEBHOOK_TOLERANCE_SECS"));
    let out = bin()
        .arg("sign")
        .arg(fixture("webhooks/vg-dial-488.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEBHOOK_SIGNING_SECRETS"));
}

#[tokio::test]
async fn sign_prints_headers_the_receiver_accepts() {
    let app = app::spawn(
        "sign",
        Role::Receiver,
        &[("WEBHOOK_SIGNING_SECRETS", "s3cret")],
    )
    .await;
    let file = fixture("webhooks/vg-dial-488.json");
    let out = bin()
        .arg("sign")
        .arg(&file)
        .env("WEBHOOK_SIGNING_SECRETS", "s3cret")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut req = app
        .client
        .post(app.webhook())
        .header("content-type", "application/json");
    for line in text.lines() {
        let (k, v) = line.split_once(": ").expect("Name: value lines");
        req = req.header(k, v);
    }
    let resp = req
        .body(std::fs::read(&file).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202, "{text}");
    app.stop().await;
}

#[test]
fn check_config_probes_the_broker_and_reports_each_check() {
    let prefix = broker::unique_prefix("checkcfg");
    let out = bin()
        .arg("check-config")
        .env("AMQP_URL", broker::AMQP_URL)
        .env("QUEUE_PREFIX", &prefix)
        .env("WEBHOOK_API_KEYS", "k")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok   queue: RabbitMQ"), "{text}");
    assert!(text.contains("cxone") && text.contains("notify"), "{text}");
    assert!(
        text.contains("ok   cxone-rate: CXONE_MAX_RPS=10: at most 10 CXone requests per second")
            && text.contains("divided by the number of worker processes"),
        "{text}"
    );
    assert!(
        !text.contains("guest"),
        "the broker password never shows: {text}"
    );

    let out = bin()
        .arg("check-config")
        .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL queue"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(broker::delete_all(&prefix, &[]));
}

#[test]
fn a_dotenv_file_is_read_from_the_working_directory() {
    let file = fixture("webhooks/vg-dial-488.json");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "WEBHOOK_SIGNING_SECRETS=from-dotenv\n",
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .arg("sign")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("X-Cognigy-Signature: sha256="), "{text}");
    // The same command from the tests' own working directory sees no secret at all.
    let out = bin().arg("sign").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn numeric_values_that_used_to_panic_exit_2_naming_their_variable() {
    for (key, value) in [
        ("QUEUE_CONFIRM_TIMEOUT_SECS", "-1"),
        ("QUEUE_CONFIRM_TIMEOUT_SECS", "NaN"),
        ("WEBHOOK_TOLERANCE_SECS", "18446744073709551615"),
        ("NOTIFY_GROUP_WAIT_SECS", "18446744073709551615"),
    ] {
        let out = bin().arg("check-config").env(key, value).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {err}");
        assert!(err.contains(key), "{key}={value}: {err}");
    }
}

#[tokio::test]
async fn replay_exits_0_when_every_file_is_accepted_and_1_when_one_is_not() {
    let app = app::spawn("replaycli", Role::Receiver, &[("WEBHOOK_API_KEYS", "k-1")]).await;
    let good = fixture("webhooks/vg-dial-488.json");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no-conversation.json");
    std::fs::write(&bad, br#"{"eventId":"e-1"}"#).unwrap();
    let replay = |files: &[&Path]| {
        let mut c = bin();
        c.arg("replay")
            .arg("--url")
            .arg(app.webhook())
            .args(files)
            .env("WEBHOOK_API_KEYS", "k-1");
        tokio::process::Command::from(c).output()
    };

    let out = replay(&[&good]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("202") && text.contains("vg-dial-488.json"),
        "{text}"
    );

    let out = replay(&[&good, &bad]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("422") && text.contains("missing_conversation_id"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 of 2 files were not accepted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(broker::count(&app.jobs()).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn serve_warns_at_start_that_the_in_process_queue_is_not_durable() {
    let mut cmd = bin();
    cmd.args(["serve", "--role", "receiver"])
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    let mut served = Served::start(cmd);
    let line = served
        .line_with("NOT durable", Duration::from_secs(30))
        .await;
    assert!(line.contains("AMQP_URL") && line.contains("WARN"), "{line}");
    served.line_with("listening", Duration::from_secs(30)).await;
    assert!(served.stop().await.success());
}

#[tokio::test]
async fn serve_replay_targets_the_address_it_bound_even_on_ipv6_loopback() {
    let mut cmd = bin();
    cmd.args(["serve", "--role", "receiver", "--replay"])
        .arg(fixture("webhooks/vg-dial-488.json"))
        .env("LISTEN_ADDR", "[::1]:0");
    let mut served = Served::start(cmd);
    let target = served
        .line_with("replaying 1 file(s) to ", Duration::from_secs(30))
        .await;
    assert!(target.contains("http://[::1]:"), "{target}");
    served
        .line_with("replay: 1 of 1 accepted", Duration::from_secs(30))
        .await;
    assert!(served.stop().await.success());
}
