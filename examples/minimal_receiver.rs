//! The minimal receiver: the reference the real receiver's throughput is measured against
//! (issue 5, `bench/ingest.sh`).
//!
//! It is what one would write in an afternoon with actix-web and lapin, and nothing more:
//! take the raw body, publish it persistent to a quorum queue on a channel in confirm mode,
//! wait for the broker's confirm, answer `202`. No parsing, no metrics, no auth variants.
//! Whatever the full receiver does beyond this is what the benchmark puts a price on; two
//! switches add one step of it at a time, to price each in place: an HMAC check (the
//! Cognigy scheme of CONTRACT.md section 6.1) when `MINIMAL_HMAC_SECRET` is set, and the
//! event parser plus canonical re-serialisation with `--parse`.
//!
//! Built only with the `bench` feature, so `cargo test` never compiles it:
//!
//! ```text
//! cargo build --release --features bench --example minimal_receiver
//! AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f QUEUE_PREFIX=bench-min \
//!   LISTEN_ADDR=127.0.0.1:18080 target/release/examples/minimal_receiver
//! ```

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use clap::Parser;
use handover_doctor::event::HandoverEvent;
use hmac::{Hmac, KeyInit, Mac};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use sha2::Sha256;

/// Command line (each flag also reads the environment variable the full receiver uses).
#[derive(Debug, Parser)]
#[command(about = "Minimal actix-web + lapin webhook receiver (benchmark baseline)")]
struct Args {
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// The queue is `<prefix>.jobs`.
    #[arg(long, env = "QUEUE_PREFIX", default_value = "bench-minimal")]
    queue_prefix: String,
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:18080")]
    listen_addr: String,
    /// When set, requests must carry a valid Cognigy HMAC signature (no timestamp window
    /// check: this is a cost probe, not a security boundary).
    #[arg(long, env = "MINIMAL_HMAC_SECRET")]
    hmac_secret: Option<String>,
    /// actix-web worker threads (default: actix's own choice, one per physical core).
    #[arg(long)]
    workers: Option<usize>,
    /// Publishing channels, used round-robin. One is what a first version has.
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Ablation: also parse the body with `HandoverEvent::parse` and publish its canonical
    /// form, as the full receiver does, to price that step in place.
    #[arg(long)]
    parse: bool,
}

/// Everything a request needs, shared by every actix worker.
struct State {
    channels: Vec<Channel>,
    next: AtomicUsize,
    routing_key: lapin::types::ShortString,
    secret: Option<Vec<u8>>,
    parse: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();

    // The connection lives on this (multi-thread) runtime, not on an actix worker's.
    let conn = Connection::connect(&args.amqp_url, ConnectionProperties::default()).await?;
    let queue = format!("{}.jobs", args.queue_prefix);
    let mut channels = Vec::with_capacity(args.channels.max(1));
    for _ in 0..args.channels.max(1) {
        let ch = conn.create_channel().await?;
        let mut qargs = FieldTable::default();
        // The same queue type as the real jobs queue: classic queues are ~2x slower on 3.10.
        qargs.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        ch.queue_declare(queue.as_str().into(), QueueDeclareOptions::durable(), qargs)
            .await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        channels.push(ch);
    }

    let state = web::Data::new(State {
        channels,
        next: AtomicUsize::new(0),
        routing_key: queue.as_str().into(),
        secret: args.hmac_secret.map(String::into_bytes),
        parse: args.parse,
    });

    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/webhooks/cognigy/handover", web::post().to(handover))
            .route("/healthz", web::get().to(HttpResponse::Ok))
            .route("/readyz", web::get().to(HttpResponse::Ok))
    })
    .bind(&args.listen_addr)?;
    if let Some(n) = args.workers {
        server = server.workers(n);
    }
    eprintln!(
        "minimal_receiver listening on {} -> {queue}",
        args.listen_addr
    );
    server.run().await?;
    let _ = conn.close(200, "bye".into()).await;
    Ok(())
}

async fn handover(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    if let Some(secret) = &state.secret
        && !signature_ok(&req, &body, secret)
    {
        return HttpResponse::Unauthorized().body(r#"{"error":"invalid_signature"}"#);
    }
    let payload: Cow<'_, [u8]> = if state.parse {
        match HandoverEvent::parse(&body) {
            Ok(event) => Cow::Owned(event.to_json()),
            Err(_) => {
                return HttpResponse::UnprocessableEntity().body(r#"{"error":"invalid_field"}"#);
            }
        }
    } else {
        Cow::Borrowed(&body[..])
    };
    let i = state.next.fetch_add(1, Ordering::Relaxed) % state.channels.len();
    let channel = &state.channels[i];
    let props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    let confirmed = async {
        let confirm = channel
            .basic_publish(
                "".into(),
                state.routing_key.clone(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &payload,
                props,
            )
            .await?;
        confirm.await
    };
    let stored = match tokio::time::timeout(Duration::from_secs(5), confirmed).await {
        // Ack(Some(returned)) would mean unroutable: not stored.
        Ok(Ok(c)) => c.is_ack() && c.take_message().is_none(),
        _ => false,
    };
    if stored {
        HttpResponse::Accepted()
            .content_type("application/json")
            .body(r#"{"status":"queued"}"#)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .body(r#"{"error":"queue_unavailable"}"#)
    }
}

/// `X-Cognigy-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>`.
fn signature_ok(req: &HttpRequest, body: &[u8], secret: &[u8]) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(sig)) = (header("x-cognigy-timestamp"), header("x-cognigy-signature"))
    else {
        return false;
    };
    let Some(tag) = sig
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}
