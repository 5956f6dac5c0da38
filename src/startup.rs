//! Building and running the service: `Application::build` binds first (port 0 works in
//! tests) and starts the chosen roles; `run_until_stopped` waits for SIGINT/SIGTERM (or
//! the shutdown token) and drains: the HTTP server finishes in-flight requests, consumers
//! stop taking work, in-flight jobs finish and ack (or are requeued by the broker), the
//! queue waits for outstanding confirms.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;
use crate::queue::rabbitmq::{RabbitQueue, RabbitSettings};
use crate::queue::{Queue, Topology, memory::MemoryQueue};
use crate::receiver::auth::AuthConfig;
use crate::receiver::{self, ReceiverState};
use crate::roles::Role;
use crate::settings::Settings;

/// Opens the configured queue (RabbitMQ, or in-process when `AMQP_URL` is unset).
pub fn open_queue(settings: &Settings) -> Queue {
    match rabbit_settings(settings) {
        None => Queue::Memory(MemoryQueue::new()),
        Some(rabbit) => Queue::Rabbit(RabbitQueue::start(
            rabbit,
            // Not the app's token: the publisher must outlive the consumers so in-flight
            // jobs can still publish their reports while the app drains; `close` ends it.
            CancellationToken::new(),
        )),
    }
}

/// How this process reaches RabbitMQ; `None` when `AMQP_URL` is unset.
pub fn rabbit_settings(settings: &Settings) -> Option<RabbitSettings> {
    settings
        .queue
        .amqp_url
        .as_ref()
        .map(|nodes| RabbitSettings {
            nodes: nodes.clone(),
            topology: Topology::new(&settings.queue.prefix, settings.worker.delays()),
            confirm_timeout: settings.queue.confirm_timeout,
            connection_name: format!("handover-doctor@{}", hostname()),
        })
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// A running (or ready to run) service.
pub struct Application {
    local_addr: Option<SocketAddr>,
    server: Option<actix_web::dev::Server>,
    queue: Queue,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Application {
    /// Validates the settings, opens the queue, binds the listener and starts the roles.
    ///
    /// # Errors
    /// A configuration error naming the variable, or the address cannot be bound.
    pub async fn build(settings: Settings, role: Role) -> anyhow::Result<Self> {
        let cancel = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        let r = &settings.receiver;
        let auth = AuthConfig::new(&r.signing_secrets, &r.api_keys, r.tolerance_secs)
            .map_err(anyhow::Error::msg)?;
        if role.receiver() && auth.is_open() {
            if !r.listen_addr.ip().is_loopback() {
                anyhow::bail!(
                    "no webhook authentication is configured and LISTEN_ADDR={} is not a loopback address: \
                     set WEBHOOK_SIGNING_SECRETS or WEBHOOK_API_KEYS (or listen on 127.0.0.1)",
                    r.listen_addr
                );
            }
            tracing::warn!(
                listen_addr = %r.listen_addr,
                "no WEBHOOK_SIGNING_SECRETS or WEBHOOK_API_KEYS: accepting unauthenticated webhooks on loopback only"
            );
        }

        let queue = open_queue(&settings);
        if let Queue::Memory(_) = queue {
            tracing::warn!(
                "AMQP_URL is not set: using the in-process queue, which is NOT durable (events are lost on restart); \
                 set AMQP_URL for real use"
            );
        }

        let tasks = TaskTracker::new();
        let mut app = Application {
            local_addr: None,
            server: None,
            queue,
            metrics,
            cancel,
            tasks,
        };

        let http_addr = if role.receiver() {
            Some(r.listen_addr)
        } else {
            settings
                .env
                .get("METRICS_ADDR")
                .map(|a| a.parse())
                .transpose()
                .context("METRICS_ADDR is not an address")?
        };
        if let Some(addr) = http_addr {
            let listener = TcpListener::bind(addr)
                .with_context(|| format!("cannot listen on {addr} (LISTEN_ADDR / METRICS_ADDR)"))?;
            let bound = listener.local_addr()?;
            app.local_addr = Some(bound);
            let state = web::Data::new(ReceiverState {
                auth,
                queue: app.queue.clone(),
                max_body_bytes: r.max_body_bytes,
                metrics: app.metrics.clone(),
            });
            let server =
                HttpServer::new(move || App::new().configure(|cfg| receiver::routes(cfg, &state)))
                    .workers(r.workers.max(1))
                    .disable_signals()
                    .shutdown_timeout(10)
                    .listen(listener)?
                    .run();
            tracing::info!(%addr, %bound, ?role, "listening");
            app.server = Some(server);
        }

        crate::roles::start(
            &settings,
            role,
            &app.queue,
            &app.metrics,
            &app.cancel,
            &app.tasks,
        )
        .await?;
        Ok(app)
    }

    /// The bound port, when an HTTP listener runs.
    pub fn port(&self) -> Option<u16> {
        self.local_addr.map(|a| a.port())
    }

    /// The address actually bound (the port resolved when `LISTEN_ADDR` asked for 0), when
    /// an HTTP listener runs.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The queue this process uses.
    pub fn queue(&self) -> Queue {
        self.queue.clone()
    }

    /// This process's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Cancelling this token stops the application gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs until SIGINT/SIGTERM or the shutdown token, then drains.
    ///
    /// # Errors
    /// The HTTP server failed.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let signals = ShutdownSignals::install();
        self.run_until(signals).await
    }

    /// [`Application::run_until_stopped`] with signal handlers installed earlier: `serve`
    /// installs them before it builds the application, so a SIGTERM that arrives once
    /// the port is bound (and the log says so) drains instead of killing the process.
    ///
    /// # Errors
    /// The HTTP server failed.
    pub async fn run_until(self, signals: ShutdownSignals) -> anyhow::Result<()> {
        let Application {
            server,
            queue,
            cancel,
            tasks,
            ..
        } = self;
        let handle = server.as_ref().map(|s| s.handle());
        let server_task = server.map(tokio::spawn);
        tokio::select! {
            () = cancel.cancelled() => {}
            () = signals.recv() => tracing::info!("shutdown requested; draining"),
        }
        cancel.cancel();
        if let Some(h) = handle {
            h.stop(true).await;
        }
        if let Some(t) = server_task {
            let _ = t.await;
        }
        tasks.close();
        if tokio::time::timeout(Duration::from_secs(30), tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some jobs did not finish within 30 s; the broker will redeliver them");
        }
        queue.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// SIGINT and SIGTERM handlers. A handler exists from the moment this is made (tokio's
/// `ctrl_c()` only registers when first polled), so make it before anything a
/// supervisor may answer with a signal, such as binding the port.
pub struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    /// Installs the handlers (needs a tokio runtime). One that cannot be installed is
    /// simply never received.
    #[cfg(unix)]
    pub fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        ShutdownSignals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Installs the handlers (needs a tokio runtime).
    #[cfg(not(unix))]
    pub fn install() -> Self {
        ShutdownSignals {}
    }

    /// Completes at the first SIGINT or SIGTERM.
    #[cfg(unix)]
    pub async fn recv(mut self) {
        async fn next(s: Option<&mut tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = next(self.interrupt.as_mut()) => {}
            () = next(self.terminate.as_mut()) => {}
        }
    }

    /// Completes at the first Ctrl-C.
    #[cfg(not(unix))]
    pub async fn recv(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
