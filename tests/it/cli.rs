//! The binary's command line: exit codes, configuration errors that name the variable,
//! `sign` headers the receiver accepts, `check-config` probing the broker.

use std::process::Command;

use handover_doctor::startup::Role;

use crate::support::app;
use crate::support::broker;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_handover-doctor"));
    // A clean slate: no .env of the developer's, nothing inherited that matters.
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AMQP_URL")
        .env("RUST_LOG", "warn");
    c
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
        .arg("fixtures/webhooks/vg-dial-488.json")
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
    let file = "fixtures/webhooks/vg-dial-488.json";
    let out = bin()
        .arg("sign")
        .arg(file)
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
    let resp = req.body(std::fs::read(file).unwrap()).send().await.unwrap();
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
