//! What each command does, given parsed arguments and settings. `main.rs` only maps the
//! outcome to an exit code: 0 success, 1 a failure at run time, 2 bad usage or
//! configuration.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Command, DiagnoseArgs, ScanArgs};
use crate::config::{ConfigError, Env};
use crate::queue::Queue;
use crate::receiver::WEBHOOK_PATH;
use crate::replay::{self, ReplayAuth};
use crate::settings::Settings;
use crate::startup::{self, Application, ShutdownSignals};

/// A command's failure and the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad usage or configuration: exit 2.
    #[error("{0}")]
    Usage(String),
    /// Something failed while running: exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::Usage(_) => ExitCode::from(2),
            CommandError::Failed(_) => ExitCode::from(1),
        }
    }
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        CommandError::Usage(e.0)
    }
}

/// Runs a command.
///
/// # Errors
/// [`CommandError`] with the exit code it maps to.
pub async fn run(command: Command, env: Env) -> Result<(), CommandError> {
    let settings = Settings::from_env(env)?;
    let on_terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let quiet =
        matches!(command, Command::Serve { .. }) && settings.notify.uses_stdout() && on_terminal;
    crate::telemetry::init(settings.log_format, quiet);
    match command {
        Command::Serve { role, replay } => serve(settings, role, replay).await,
        Command::Replay {
            url,
            concurrency,
            paths,
        } => {
            let url = url.unwrap_or_else(|| default_url(&settings));
            let files = replay::collect_files(&paths).map_err(CommandError::Usage)?;
            let auth = ReplayAuth::from_config(
                &settings.receiver.signing_secrets,
                &settings.receiver.api_keys,
            )
            .map_err(CommandError::Usage)?;
            let mut out = std::io::stdout();
            let lines = replay::replay(&url, files, usize::from(concurrency), &auth, &mut out)
                .await
                .map_err(|e| CommandError::Failed(e.to_string()))?;
            let failed = lines.iter().filter(|l| !l.ok()).count();
            if failed > 0 {
                return Err(CommandError::Failed(format!(
                    "{failed} of {} files were not accepted",
                    lines.len()
                )));
            }
            Ok(())
        }
        Command::Sign { file } => {
            let secret = settings.receiver.signing_secrets.first().ok_or_else(|| {
                CommandError::Usage(
                    "sign needs WEBHOOK_SIGNING_SECRETS (the secret the receiver verifies with)"
                        .into(),
                )
            })?;
            let key = crate::receiver::auth::SigningKey::parse(
                secrecy::ExposeSecret::expose_secret(secret),
            )
            .map_err(CommandError::Usage)?;
            let body = replay::read_file(&file).map_err(CommandError::Usage)?;
            print!(
                "{}",
                replay::sign_headers(&key, &body, chrono::Utc::now().timestamp())
            );
            Ok(())
        }
        Command::Explain { code, list } => explain(code, list),
        Command::Diagnose(args) => diagnose(settings, args).await,
        Command::DeadLetters { requeue } => dead_letters(settings, requeue).await,
        Command::Scan(args) => scan(settings, args).await,
        Command::CheckConfig => check_config(settings).await,
    }
}

fn default_url(settings: &Settings) -> String {
    webhook_url(settings.receiver.listen_addr)
}

/// The webhook URL of a receiver listening on `addr`: an unspecified address (`0.0.0.0`,
/// `[::]`) is reached on the loopback address of its own family.
fn webhook_url(mut addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}{WEBHOOK_PATH}")
}

async fn serve(
    settings: Settings,
    role: crate::roles::Role,
    replay_paths: Vec<std::path::PathBuf>,
) -> Result<(), CommandError> {
    let files = if replay_paths.is_empty() {
        Vec::new()
    } else {
        replay::collect_files(&replay_paths).map_err(CommandError::Usage)?
    };
    if !files.is_empty() && !role.receiver() {
        return Err(CommandError::Usage(
            "--replay needs the receiver role (--role all or receiver)".into(),
        ));
    }
    let auth = ReplayAuth::from_config(
        &settings.receiver.signing_secrets,
        &settings.receiver.api_keys,
    )
    .map_err(CommandError::Usage)?;
    // Before the port is bound: from then on a SIGTERM must drain, not kill.
    let signals = ShutdownSignals::install();
    let group_wait = settings.notify.group_wait.as_secs();
    let app = Application::build(settings, role)
        .await
        .map_err(|e| CommandError::Usage(format!("{e:#}")))?;
    if !files.is_empty() {
        // The address actually bound: its port when LISTEN_ADDR asked for 0, and its family
        // (a receiver on [::1] is not on 127.0.0.1).
        let Some(bound) = app.local_addr() else {
            return Err(CommandError::Usage(
                "--replay needs the receiver role (--role all or receiver)".into(),
            ));
        };
        let url = webhook_url(bound);
        let queue = app.queue();
        tokio::spawn(async move {
            if let Queue::Rabbit(q) = &queue {
                let _ = q.wait_connected(Duration::from_secs(30)).await;
            }
            let mut err = std::io::stderr();
            let _ = writeln!(err, "replaying {} file(s) to {url}", files.len());
            match replay::replay(&url, files, 4, &auth, &mut err).await {
                Ok(lines) => {
                    let ok = lines.iter().filter(|l| l.ok()).count();
                    let _ = writeln!(
                        err,
                        "replay: {ok} of {} accepted; the diagnoses follow in about {group_wait} s (NOTIFY_GROUP_WAIT_SECS), grouped by verdict and skill",
                        lines.len()
                    );
                }
                Err(e) => tracing::error!(error = %e, "replay failed"),
            }
        });
    }
    app.run_until(signals)
        .await
        .map_err(|e| CommandError::Failed(format!("{e:#}")))
}

fn explain(code: Option<String>, list: bool) -> Result<(), CommandError> {
    if list {
        print!("{}", crate::diagnosis::explain_list());
        return Ok(());
    }
    let raw = code.unwrap_or_default();
    let code = crate::diagnosis::Code::parse(&raw).ok_or_else(|| {
        CommandError::Usage(format!(
            "{raw:?} is not a finding code: `handover-doctor explain --list` shows them all"
        ))
    })?;
    print!("{}", crate::diagnosis::explain(code));
    Ok(())
}

async fn diagnose(settings: Settings, args: DiagnoseArgs) -> Result<(), CommandError> {
    use crate::diagnosis::evidence::Evidence;
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
    let client = crate::roles::cxone_client(&settings, &metrics)
        .map_err(|e| CommandError::Usage(format!("{e:#}")))?;
    let event = match &args.payload {
        Some(path) => {
            let bytes = replay::read_file(path).map_err(CommandError::Usage)?;
            // A file, not a webhook arriving now: no receive time is stamped on it.
            Some(
                crate::event::HandoverEvent::from_json(&bytes)
                    .map_err(|e| CommandError::Usage(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let contact_id = args.contact_id.clone().or_else(|| {
        event
            .as_ref()
            .and_then(|e| e.real_contact_id().map(str::to_string))
    });
    if client.is_none() {
        eprintln!("note: no CXONE_* credentials configured: diagnosing from the payload alone");
    }
    let cxone = crate::cxone::gather(
        client.as_deref(),
        event.as_ref(),
        args.contact_id.as_deref(),
    )
    .await;
    let evidence = Evidence {
        event,
        contact_id,
        cxone,
        required_context_keys: settings.worker.required_context_keys.clone(),
        now: chrono::Utc::now(),
    };
    // Masked like every notification (CONTRACT.md section 8): this output is pasted
    // into tickets and chats, and the operator who needs the number has the payload.
    let mut d =
        crate::notify::mask::mask_diagnosis(&crate::diagnosis::diagnose(&evidence), &evidence);
    if let Some(c) = args.conversation_id {
        d.conversation_id = c;
    }
    match args.format {
        crate::cli::Format::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&d).expect("a diagnosis always serialises")
            )
        }
        crate::cli::Format::Text => print!("{}", crate::diagnosis::render_text(&d)),
    }
    Ok(())
}

/// `scan`: page through CXone's completed voice contacts in the window, keep the
/// suspected failed handovers (`scan::classify`), then print each diagnosis (text: one
/// entry per suspect and a summary line; json: one JSON array of Diagnosis objects on
/// standard output, the summary on standard error; a suspect an agent took after all,
/// HD401, is left out of both and only counted in the summary) or, with `--enqueue`,
/// publish each as a `scan:<contactId>` event to `P.jobs` for the workers and the
/// notifier (which drop HD401 the same way).
async fn scan(settings: Settings, args: ScanArgs) -> Result<(), CommandError> {
    use crate::scan;
    use indicatif::{ProgressBar, ProgressStyle};
    use std::io::IsTerminal;

    let window = scan::Window::from_args(
        args.since.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
        chrono::Utc::now(),
    )
    .map_err(CommandError::Usage)?;
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
    let client = crate::roles::cxone_client(&settings, &metrics)
        .map_err(|e| CommandError::Usage(format!("{e:#}")))?
        .ok_or_else(|| {
            CommandError::Usage(
                "scan reads CXone: set CXONE_CLIENT_ID, CXONE_CLIENT_SECRET, CXONE_ACCESS_KEY_ID and CXONE_ACCESS_KEY_SECRET".into(),
            )
        })?;
    let skills = if args.skills.is_empty() {
        settings.worker.scan_skills.clone()
    } else {
        args.skills.clone()
    };
    // Opened before the search, so a missing broker fails fast, not after a long scan.
    let queue = if args.enqueue {
        Some(connected_queue(&settings).await?)
    } else {
        None
    };
    if args.enqueue
        && let Some(note) = scan::enqueue_window_note(window, settings.notify.dedup_ttl)
    {
        eprintln!("{note}");
    }

    // Progress only for a person watching: never in pipes, logs or tests.
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        let bar = ProgressBar::new_spinner();
        bar.set_message(format!("searching CXone {window}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let found = scan::find_suspects(&client, window, &skills, |scanned, suspects| {
        bar.set_message(format!(
            "searching CXone {window}: {scanned} contacts, {suspects} suspects"
        ));
    })
    .await;
    bar.finish_and_clear();
    let found = found.map_err(|e| CommandError::Failed(e.to_string()))?;

    if let Some(queue) = queue {
        let result = async {
            let mut n = 0;
            for s in &found.suspects {
                scan::enqueue(&queue, s)
                    .await
                    .map_err(|e| CommandError::Failed(format!("{e} (after {n} enqueued)")))?;
                n += 1;
            }
            println!(
                "scanned {} voice contact(s) completed {window}: enqueued {n} suspected failed handover(s) to {}.jobs as scan:<contactId> events",
                found.scanned, settings.queue.prefix
            );
            Ok(())
        }
        .await;
        queue.close().await;
        return result;
    }

    let bar = if tty && found.suspects.len() > 1 {
        let bar = ProgressBar::new(found.suspects.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("diagnosing {bar:30} {pos}/{len} {elapsed}")
                .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let diagnoses = scan::diagnose_suspects(
        &client,
        &found.suspects,
        &settings.worker.required_context_keys,
        scan::LOOKUP_CONCURRENCY,
        || bar.inc(1),
    )
    .await;
    bar.finish_and_clear();
    // Masked like `diagnose`, with the caller number each suspect's record carries.
    let diagnoses: Vec<_> = found
        .suspects
        .iter()
        .zip(&diagnoses)
        .map(|(s, d)| {
            let mut m = crate::notify::mask::Masker::for_diagnoses([d]);
            if let Some(n) = &s.contact.from_address {
                m.learn_caller_value(n);
            }
            m.diagnosis(d)
        })
        .collect();
    let summary = scan::summary(window, found.scanned, &diagnoses);
    // A suspect an agent took after all (HD401) is no failure: counted in the summary only.
    let failures: Vec<(&scan::Suspect, &crate::diagnosis::Diagnosis)> = found
        .suspects
        .iter()
        .zip(&diagnoses)
        .filter(|(_, d)| !scan::handled_after_all(d))
        .collect();
    match args.format {
        crate::cli::Format::Json => {
            let list: Vec<_> = failures.iter().map(|(_, d)| *d).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).expect("a diagnosis always serialises")
            );
            eprintln!("{summary}");
        }
        crate::cli::Format::Text => {
            for (s, d) in failures {
                println!("{}", scan::render_suspect(s, d));
            }
            println!("{summary}");
        }
    }
    Ok(())
}

async fn connected_queue(settings: &Settings) -> Result<Queue, CommandError> {
    if settings.queue.amqp_url.is_none() {
        return Err(CommandError::Usage(
            "this command reads RabbitMQ: set AMQP_URL (the in-process queue lives only inside `serve`)".into(),
        ));
    }
    let queue = startup::open_queue(settings);
    if let Queue::Rabbit(q) = &queue {
        q.wait_connected(Duration::from_secs(10))
            .await
            .map_err(|_| {
                CommandError::Failed(
                    "cannot reach RabbitMQ at AMQP_URL within 10 s: is the broker running?".into(),
                )
            })?;
    }
    Ok(queue)
}

async fn dead_letters(settings: Settings, requeue: bool) -> Result<(), CommandError> {
    let queue = connected_queue(&settings).await?;
    let result = async {
        if requeue {
            let moved = queue
                .requeue_dead()
                .await
                .map_err(|e| CommandError::Failed(e.to_string()))?;
            let p = &settings.queue.prefix;
            println!(
                "moved {} dead letter(s) back to the queue each died in: {} to {p}.jobs, {} to {p}.reports",
                moved.total(),
                moved.jobs,
                moved.reports
            );
        } else {
            let dead = queue
                .peek_dead()
                .await
                .map_err(|e| CommandError::Failed(e.to_string()))?;
            if dead.is_empty() {
                println!("{}.dead is empty", settings.queue.prefix);
            }
            for d in &dead {
                let conversation = d.conversation_id.clone().or_else(|| {
                    crate::event::HandoverEvent::from_json(&d.body)
                        .ok()
                        .map(|e| e.conversation_id)
                });
                println!(
                    "{}\tconversation={}\tqueue={}.{}\treason={}",
                    d.event_id,
                    conversation.as_deref().unwrap_or("?"),
                    settings.queue.prefix,
                    d.origin.suffix(),
                    d.reason
                );
            }
            if !dead.is_empty() {
                println!(
                    "{} dead letter(s); `dead-letters --requeue` moves each back to the queue it died in",
                    dead.len()
                );
            }
        }
        Ok(())
    }
    .await;
    queue.close().await;
    result
}

async fn check_config(settings: Settings) -> Result<(), CommandError> {
    let mut failed = 0;
    let mut line = |ok: bool, what: &str, detail: String| {
        if !ok {
            failed += 1;
        }
        println!("{} {what}: {detail}", if ok { "ok  " } else { "FAIL" });
    };
    line(true, "configuration", "every variable parses".into());
    let r = &settings.receiver;
    match crate::receiver::auth::AuthConfig::new(&r.signing_secrets, &r.api_keys, r.tolerance_secs)
    {
        Err(e) => line(false, "webhook auth", e),
        Ok(a) if a.is_open() && !r.listen_addr.ip().is_loopback() => line(
            false,
            "webhook auth",
            format!(
                "LISTEN_ADDR={} is not loopback: set WEBHOOK_SIGNING_SECRETS or WEBHOOK_API_KEYS",
                r.listen_addr
            ),
        ),
        Ok(a) if a.is_open() => line(
            true,
            "webhook auth",
            "none configured (accepted on loopback only)".into(),
        ),
        Ok(_) => line(
            true,
            "webhook auth",
            format!(
                "{} signing secret(s), {} API key(s)",
                r.signing_secrets.len(),
                r.api_keys.len()
            ),
        ),
    }
    match startup::rabbit_settings(&settings) {
        None => line(
            true,
            "queue",
            "in-process (AMQP_URL unset; not durable)".into(),
        ),
        // Every node on its own: a cluster that works through two of three still needs
        // the third fixed.
        Some(rabbit) => {
            let nodes = rabbit.nodes.all();
            for (i, node) in nodes.iter().enumerate() {
                let which = if nodes.len() == 1 {
                    format!("RabbitMQ at {}", node.addr())
                } else {
                    format!(
                        "RabbitMQ node {} ({} of {})",
                        node.addr(),
                        i + 1,
                        nodes.len()
                    )
                };
                match crate::queue::rabbitmq::probe(&rabbit, node).await {
                    Ok(()) => line(
                        true,
                        "queue",
                        format!(
                            "{which}: connected, topology declared (prefix {})",
                            settings.queue.prefix
                        ),
                    ),
                    Err(e) => line(false, "queue", format!("{which}: {e}")),
                }
            }
        }
    }
    if settings.cxone.is_configured() {
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
        match crate::cxone::CxoneClient::new(settings.cxone.clone(), metrics) {
            Err(e) => line(false, "cxone", e.to_string()),
            Ok(c) => match c.check().await {
                Ok(summary) => line(true, "cxone", summary),
                Err(e) => line(false, "cxone", e.to_string()),
            },
        }
    } else {
        line(
            true,
            "cxone",
            "not configured: diagnoses use the webhook payload only".into(),
        );
    }
    line(true, "cxone-rate", rate_limit_line(settings.cxone.max_rps));
    let n = &settings.notify;
    for (name, url) in [
        ("slack", &n.slack_webhook_url),
        ("teams", &n.teams_webhook_url),
    ] {
        if let Some(u) = url {
            line(
                true,
                name,
                format!(
                    "webhook URL on {} (syntax checked only)",
                    u.host_str().unwrap_or("?")
                ),
            );
        }
    }
    if n.slack_webhook_url.is_none() && n.teams_webhook_url.is_none() {
        line(
            true,
            "notify",
            "no SLACK_WEBHOOK_URL or TEAMS_WEBHOOK_URL: notifications go to standard output".into(),
        );
    }
    if failed > 0 {
        return Err(CommandError::Failed(format!("{failed} check(s) failed")));
    }
    Ok(())
}

/// What `CXONE_MAX_RPS` means for this process, and how to size it: the limit is per
/// process, so the tenant sees it once per worker process.
fn rate_limit_line(max_rps: u32) -> String {
    let sizing = "the limit is per process: set it to the share of the tenant's API quota \
                  given to handover-doctor divided by the number of worker processes \
                  (e.g. 20 requests/s over 4 workers: CXONE_MAX_RPS=5)";
    if max_rps == 0 {
        format!("CXONE_MAX_RPS=0: no limit on this process's CXone requests; {sizing}")
    } else {
        format!(
            "CXONE_MAX_RPS={max_rps}: at most {max_rps} CXone requests per second from this \
             process; {sizing}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_line_says_the_limit_and_how_to_share_it_among_processes() {
        let l = rate_limit_line(10);
        assert!(
            l.starts_with("CXONE_MAX_RPS=10: at most 10 CXone requests per second"),
            "{l}"
        );
        assert!(
            l.contains("divided by the number of worker processes"),
            "{l}"
        );
        assert!(rate_limit_line(0).contains("no limit"));
    }

    #[test]
    fn the_webhook_url_reaches_an_unspecified_listener_on_the_loopback_of_its_family() {
        let url = |a: &str| webhook_url(a.parse().unwrap());
        assert_eq!(
            url("0.0.0.0:8080"),
            format!("http://127.0.0.1:8080{WEBHOOK_PATH}")
        );
        assert_eq!(url("[::]:8080"), format!("http://[::1]:8080{WEBHOOK_PATH}"));
        assert_eq!(
            url("[::1]:41234"),
            format!("http://[::1]:41234{WEBHOOK_PATH}")
        );
        assert_eq!(
            url("10.1.2.3:80"),
            format!("http://10.1.2.3:80{WEBHOOK_PATH}")
        );
    }
}
