//! Spawning the whole application in-process on port 0.

use std::sync::Arc;

use handover_doctor::config::Env;
use handover_doctor::metrics::Metrics;
use handover_doctor::queue::Queue;
use handover_doctor::roles::Role;
use handover_doctor::settings::Settings;
use handover_doctor::startup::Application;
use tokio_util::sync::CancellationToken;

use super::broker::{self, AMQP_URL};

/// A running app.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` (port 0 when the roles serve no HTTP).
    pub address: String,
    /// The queue prefix (RabbitMQ) for this test.
    pub prefix: String,
    /// The app's queue.
    pub queue: Queue,
    /// The app's metrics.
    pub metrics: Arc<Metrics>,
    /// Stops the app.
    pub shutdown: CancellationToken,
    /// The HTTP client.
    pub client: reqwest::Client,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// The webhook URL.
    pub fn webhook(&self) -> String {
        format!("{}/webhooks/cognigy/handover", self.address)
    }

    /// `P.jobs`.
    pub fn jobs(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// Stops the app and deletes its queues.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.handle.await;
        if self.queue.kind() == "rabbitmq" {
            broker::delete_all(&self.prefix, &[]).await;
        }
    }
}

/// Builds settings for a test: loopback port 0, the real broker under a unique prefix
/// (unless `AMQP_URL` is overridden or removed), plus the given variables.
pub fn settings(test: &str, vars: &[(&str, &str)]) -> (Settings, String) {
    let prefix = broker::unique_prefix(test);
    let mut env = Env::from_pairs([
        ("LISTEN_ADDR", "127.0.0.1:0"),
        ("AMQP_URL", AMQP_URL),
        ("QUEUE_PREFIX", prefix.as_str()),
        ("RECEIVER_WORKERS", "1"),
    ]);
    for (k, v) in vars {
        env.set(k, *v);
    }
    (
        Settings::from_env(env).expect("test settings parse"),
        prefix,
    )
}

/// Spawns the app with `role` and waits until its queue is connected.
pub async fn spawn(test: &str, role: Role, vars: &[(&str, &str)]) -> TestApp {
    let (settings, prefix) = settings(test, vars);
    spawn_with(settings, prefix, role, true).await
}

/// Spawns an app from ready settings.
pub async fn spawn_with(
    settings: Settings,
    prefix: String,
    role: Role,
    wait_connected: bool,
) -> TestApp {
    let app = Application::build(settings, role)
        .await
        .expect("app builds");
    let port = app.port().unwrap_or(0);
    let queue = app.queue();
    let metrics = app.metrics();
    let shutdown = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped());
    if wait_connected && let Queue::Rabbit(q) = &queue {
        q.wait_connected(std::time::Duration::from_secs(10))
            .await
            .expect("broker connects");
    }
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        prefix,
        queue,
        metrics,
        shutdown,
        client: reqwest::Client::new(),
        handle,
    }
}
