//! The webhook receiver: `POST /webhooks/cognigy/handover`, plus `/healthz`, `/readyz`
//! and `/metrics`.
//!
//! The request path is verify, parse, publish, answer — nothing else. Diagnosis happens
//! in the workers, so a Cognigy HTTP Request node (8–15 s timeout) always gets its answer
//! in milliseconds.

pub mod auth;
mod publisher;
mod settings;

pub use settings::ReceiverSettings;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Serialize;

use crate::event::{EventError, HandoverEvent};
use crate::metrics::Metrics;
use crate::queue::{OutMessage, Queue, QueueError, Target};
use auth::{AuthConfig, Unverified};
use publisher::LocalPublisher;

/// Path of the webhook.
pub const WEBHOOK_PATH: &str = "/webhooks/cognigy/handover";

/// Seconds a sender should wait after a 503 before retrying.
pub const RETRY_AFTER_SECS: u64 = 5;

/// What the receiver's handlers share.
pub struct ReceiverState {
    /// Accepted credentials.
    pub auth: AuthConfig,
    /// Where accepted events go.
    pub queue: Queue,
    /// `WEBHOOK_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// A 4xx/5xx answer with the stable body `{"error": code, "detail": sentence}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    detail: &'a str,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    fn response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        r.json(ErrorBody {
            error: self.code,
            detail: &self.detail,
        })
    }
}

impl From<auth::AuthError> for ApiError {
    fn from(e: auth::AuthError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
    }
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::InvalidJson(d) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", d),
            EventError::MissingConversationId => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_conversation_id",
                e.to_string(),
            ),
            EventError::InvalidField { detail, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", detail)
            }
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        // Opaque on purpose: a 5xx never leaks broker details to the sender. But say
        // whether the event may be stored after all (sent, confirm lost with the
        // connection or too late): the retry must then carry the same eventId.
        let detail = if e.in_doubt() {
            "the queue did not confirm the event, so it was not accepted, though it may have been stored; retry with the same eventId (an event is notified at most once)"
        } else {
            "the event could not be queued right now and was not accepted; retry later"
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable", detail)
    }
}

/// Registers the receiver on an actix `App`: its state, the worker thread's publishing
/// task, and the routes. The `App` factory calls it once per worker thread.
pub fn routes(cfg: &mut web::ServiceConfig, state: &web::Data<ReceiverState>) {
    cfg.app_data(state.clone())
        .app_data(LocalPublisher::new(state.queue.clone()))
        .route(WEBHOOK_PATH, web::post().to(handover))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// The `202` body, `{"status":"queued","id":"<eventId>"}` (CONTRACT.md section 4).
pub fn accepted_body(id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"status": "queued", "id": id}))
        .expect("a JSON object of two strings serialises")
}

async fn handover(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    match accept(&req, payload, &state).await {
        Ok(id) => {
            state.metrics.webhook_accepted();
            HttpResponse::Accepted()
                .insert_header((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ))
                .body(accepted_body(&id))
        }
        Err(e) => {
            state.metrics.webhook(e.code);
            if e.status.is_server_error() {
                tracing::error!(error = e.code, "webhook not accepted");
            } else {
                tracing::warn!(error = e.code, detail = %e.detail, "webhook rejected");
            }
            e.response()
        }
    }
}

async fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    state: &ReceiverState,
) -> Result<String, ApiError> {
    check_content_type(req)?;
    let body = read_body(req, payload, state.max_body_bytes).await?;
    let verified =
        Unverified::new(body).verify(&state.auth, req.headers(), chrono::Utc::now().timestamp())?;
    let event = HandoverEvent::parse(verified.body())?;
    let msg = OutMessage {
        id: event.event_id.clone(),
        body: event.to_json(),
        attempt: 0,
        reason: None,
        // Not as a header: the body has it, and a header table is one more thing for
        // lapin to write and for the broker to decode on every message (bench/README.md,
        // "Ingest"). The worker adds it to whatever it re-publishes, for `dead-letters`.
        conversation_id: None,
        ..OutMessage::default()
    };
    // The worker thread's publishing task (see publisher.rs), registered with the routes.
    let publisher = req
        .app_data::<LocalPublisher>()
        .expect("routes() registers the worker's publisher");
    publisher.publish(Target::Jobs, msg).await.map_err(|e| {
        tracing::error!(error = %e, event_id = %event.event_id, "queue did not take the event");
        ApiError::from(e)
    })?;
    tracing::debug!(event_id = %event.event_id, conversation_id = %event.conversation_id, "event queued");
    Ok(event.event_id)
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if is_json(ct) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type must be application/json, got {:?}: set the HTTP Request node's payload type to JSON",
                if ct.is_empty() { "nothing" } else { ct }
            ),
        ))
    }
}

/// `application/json` or `application/<anything>+json`, any case, parameters allowed:
/// compared as bytes, without lower-casing a copy.
fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .as_bytes();
    let json_suffix = mime.len() > 17 && mime[mime.len() - 5..].eq_ignore_ascii_case(b"+json");
    mime.eq_ignore_ascii_case(b"application/json")
        || (mime[..mime.len().min(12)].eq_ignore_ascii_case(b"application/") && json_suffix)
}

/// Reads the body, refusing it as soon as it is known to be over the limit: from
/// `Content-Length` before reading anything, or while streaming a chunked body.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than WEBHOOK_MAX_BODY_BYTES ({limit} bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // The declared length only sizes the first allocation, and never above 64 KiB: a
    // sender's claim is not a reason to reserve memory before the bytes arrive.
    let unreadable = |_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body could not be read completely",
        )
    };
    // A body that arrives in one chunk (the usual ~1.5 KB event) is kept as it is, without
    // a copy; only a body in several chunks is gathered.
    let first = match payload.next().await {
        None => return Ok(web::Bytes::new()),
        Some(chunk) => chunk.map_err(unreadable)?,
    };
    if first.len() > limit {
        return Err(too_large());
    }
    let Some(second) = payload.next().await else {
        return Ok(first);
    };
    let mut chunk = second.map_err(unreadable)?;
    let mut body = web::BytesMut::with_capacity(
        declared
            .unwrap_or(4096)
            .max(first.len() + chunk.len())
            .min(limit)
            .min(65_536),
    );
    body.extend_from_slice(&first);
    loop {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
        match payload.next().await {
            None => return Ok(body.freeze()),
            Some(next) => chunk = next.map_err(unreadable)?,
        }
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(state: web::Data<ReceiverState>) -> HttpResponse {
    let connected = state.queue.is_connected();
    state.metrics.set_queue_connected(connected);
    let mut body = serde_json::json!({"queue": state.queue.kind(), "connected": connected, "durable": state.queue.kind() == "rabbitmq"});
    if let Queue::Rabbit(_) = &state.queue {
        // Which node of the cluster this process publishes through (`host:port`, no credentials).
        body["node"] = state.queue.node().into();
    }
    if connected {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(state: web::Data<ReceiverState>) -> HttpResponse {
    state
        .metrics
        .set_queue_connected(state.queue.is_connected());
    // Bounded: a broker that does not answer must not stall the scrape; the gauges then
    // keep their last values.
    if let Ok(Ok(depths)) =
        tokio::time::timeout(std::time::Duration::from_secs(1), state.queue.depths()).await
    {
        for (queue, messages) in depths {
            state.metrics.set_queue_messages(queue, messages);
        }
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::{accepted_body, is_json};

    #[test]
    fn the_accepted_body_is_the_contract_json_whatever_the_event_id_holds() {
        for id in ["e-1", "a\"b\\c\u{1}", "ç-😀", ""] {
            let v: serde_json::Value = serde_json::from_slice(&accepted_body(id)).unwrap();
            assert_eq!(
                v,
                serde_json::json!({"status": "queued", "id": id}),
                "{id:?}"
            );
        }
    }

    #[test]
    fn json_media_types_are_recognised_in_any_case_with_parameters() {
        for ct in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
            "application/cloudevents+json",
            "APPLICATION/VND.API+JSON; q=1",
        ] {
            assert!(is_json(ct), "{ct:?}");
        }
        for ct in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/+json",
            "text/vnd.a+json",
            "application/jsonx",
            "json",
            "application/json-seq",
        ] {
            assert!(!is_json(ct), "{ct:?}");
        }
    }
}
