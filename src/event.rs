//! The handover-failure event a Cognigy flow sends (CONTRACT.md section 5), parsed once at
//! the edge.
//!
//! A Cognigy flow usually builds the body from inline `{{...}}` templates, so every value
//! may arrive as a string, undefined values either vanish or arrive as `""`, and flows
//! written from older notes use snake_case keys. The parser is tolerant of all of that and
//! strict about the one thing it cannot do without: `conversationId`. Once parsed, the event
//! is re-serialised (by serde) in canonical camelCase form; that form is what travels through the
//! queue (the raw body, which may hold caller data we do not need, never does).
//!
//! Two entry points: [`HandoverEvent::parse`] reads a webhook body as it arrives (it
//! stamps the receive time as `receivedAt`, and refuses the `scan:` event ids reserved
//! for the scanner), and [`HandoverEvent::from_json`] reads what we wrote ourselves (the
//! canonical form off the queue, a payload file), keeping its `receivedAt` and ids.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The CXone extension's placeholder contact id: "no real contact".
pub const PLACEHOLDER_CONTACT_ID: &str = "100000000000";

/// Longest accepted `conversationId` / `eventId`.
pub const MAX_ID_LEN: usize = 256;

/// The `eventId` prefix of the events `scan` enqueues (`scan:<contactId>`): reserved, so a
/// webhook may not use it (the worker would take it for a scanned contact and ignore its
/// payload).
pub const RESERVED_EVENT_ID_PREFIX: &str = "scan:";

/// Why a JSON body is not a usable event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The body is not JSON, or not a JSON object.
    #[error("{0}")]
    InvalidJson(String),
    /// `conversationId` is absent or empty.
    #[error("conversationId is required: set it to {{{{input.sessionId}}}} in the flow")]
    MissingConversationId,
    /// A field has a value the event cannot use; the string names the field.
    #[error("{detail}")]
    InvalidField {
        /// The JSON path of the field, e.g. `voice.sipStatus`.
        field: String,
        /// One human sentence.
        detail: String,
    },
}

impl EventError {
    fn field(field: &str, detail: impl Into<String>) -> Self {
        EventError::InvalidField {
            field: field.to_string(),
            detail: detail.into(),
        }
    }
}

/// How the bot tried to hand over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// The NiCE "Exit Interaction" extension node calling the CXone Signal API.
    CxoneSignal,
    /// Cognigy's native "Handover to Agent" node with a handover provider.
    HandoverProvider,
    /// A Voice Gateway Transfer node (SIP REFER or dial).
    VgTransfer,
}

impl Mechanism {
    /// The name serde writes (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::CxoneSignal => "cxone_signal",
            Mechanism::HandoverProvider => "handover_provider",
            Mechanism::VgTransfer => "vg_transfer",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        // Any case, `-` for `_`; compared in place (no lower-cased copy per event). The
        // canonical names come from `as_str`, the older flows' words after them.
        const ALL: [Mechanism; 3] = [
            Mechanism::CxoneSignal,
            Mechanism::HandoverProvider,
            Mechanism::VgTransfer,
        ];
        const ALIASES: [(&str, Mechanism); 6] = [
            ("signal", Mechanism::CxoneSignal),
            ("exit_interaction", Mechanism::CxoneSignal),
            ("handover", Mechanism::HandoverProvider),
            ("provider", Mechanism::HandoverProvider),
            ("transfer", Mechanism::VgTransfer),
            ("voice_gateway_transfer", Mechanism::VgTransfer),
        ];
        let s = s.trim().as_bytes();
        let same = |name: &str| {
            name.len() == s.len()
                && name.bytes().zip(s).all(|(n, &b)| {
                    let b = b.to_ascii_lowercase();
                    n == b || (n == b'_' && b == b'-')
                })
        };
        ALL.iter()
            .map(|&m| (m.as_str(), m))
            .chain(ALIASES)
            .find(|(name, _)| same(name))
            .map(|(_, m)| m)
    }
}

/// Where the event came from in Cognigy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowInfo {
    /// `input.entrypoint` / project id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// `input.flowName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_name: Option<String>,
    /// `input.endpointType`, e.g. `voiceGateway2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<String>,
    /// `input.channel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// A free label such as `prod-eu`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// The CXone ids the flow knew.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CxoneIds {
    /// The business unit number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_unit: Option<String>,
    /// `X-InContact-MasterId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_contact_id: Option<String>,
    /// `X-InContact-ContactId`: the spawned contact the Signal API targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
}

/// What the bot tried and what it was told.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HandoverInfo {
    /// How the bot tried to hand over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<Mechanism>,
    /// Usually `Escalate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_action: Option<String>,
    /// Skill name or id the bot wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_skill: Option<String>,
    /// `context.CXoneHandover` as the extension wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_result: Option<String>,
    /// `input.extensionError.message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_error: Option<String>,
    /// `input.codeNodeError.message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_error: Option<String>,
    /// `input.handover.status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_status: Option<String>,
    /// `input.handover.error.reason` (`unsupported` | `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error_reason: Option<String>,
    /// `input.handover.error.message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error_message: Option<String>,
}

/// Voice Gateway call-event details.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VoiceInfo {
    /// `input.data.event`, e.g. `TRANSFER_DIAL_ERROR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// VG call sid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_sid: Option<String>,
    /// SIP Call-ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_call_id: Option<String>,
    /// e.g. `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_status: Option<String>,
    /// SIP final status of the failed leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_status: Option<u16>,
    /// SIP reason phrase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_reason: Option<String>,
    /// Status of a SIP REFER.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refer_status: Option<u16>,
    /// Voice Gateway's `final_referred_call_status`: the SIP status the transfer target
    /// finally answered after a REFER was accepted with 202 (reported by the NOTIFY).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_referred_call_status: Option<u16>,
    /// SIP status of a dial leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_sip_status: Option<u16>,
    /// e.g. `no-answer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_call_status: Option<String>,
}

/// A handover-failure event, version 1, in canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoverEvent {
    /// Unique per event; derived from `conversationId` + `occurredAt` when the flow sent none.
    pub event_id: String,
    /// When the flow noticed the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// When the receiver accepted the webhook (stamped by [`HandoverEvent::parse`], to the
    /// millisecond): the timing rules' stand-in for a missing `occurredAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
    /// Cognigy `input.sessionId`.
    pub conversation_id: String,
    /// Cognigy `input.userId` (may be a caller number: mask before showing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Cognigy `input.traceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Flow details.
    #[serde(default)]
    pub flow: FlowInfo,
    /// CXone ids.
    #[serde(default)]
    pub cxone: CxoneIds,
    /// The handover attempt.
    #[serde(default)]
    pub handover: HandoverInfo,
    /// Voice Gateway details.
    #[serde(default)]
    pub voice: VoiceInfo,
    /// The keys of `context` that were present and non-empty (values are not kept: they
    /// can hold customer data, and only their presence is diagnosed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_keys: Vec<String>,
    /// The fields that arrived as the text `[object Object]` (an object put inline with
    /// `{{…}}`), e.g. `handover.signalResult`: read as absent, named by HD112.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_errors: Vec<String>,
}

/// Where a body comes from, which decides the two things the parsers treat differently.
#[derive(Clone, Copy)]
enum Origin {
    /// A webhook, received at this time: `receivedAt` is ours to stamp (a body's own is
    /// ignored), and `scan:` event ids are refused.
    Webhook(DateTime<Utc>),
    /// Our own canonical form (or a payload file): taken as written.
    Canonical,
}

impl HandoverEvent {
    /// Parses a webhook body tolerantly (see the module docs), as the receiver gets it:
    /// the event is stamped with the time now as `receivedAt`.
    ///
    /// # Errors
    /// [`EventError`] naming what to change: not JSON, no `conversationId`, an `eventId`
    /// with the reserved `scan:` prefix, or a field with an unusable value.
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        Self::parse_received(body, Utc::now())
    }

    /// [`HandoverEvent::parse`] with the receive time given (tests pin it).
    ///
    /// # Errors
    /// As [`HandoverEvent::parse`].
    pub fn parse_received(body: &[u8], received_at: DateTime<Utc>) -> Result<Self, EventError> {
        // Milliseconds are plenty for timing rules, and keep the canonical form short.
        let received_at = received_at
            .with_nanosecond(received_at.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(received_at);
        Self::read(body, Origin::Webhook(received_at))
    }

    /// Parses the canonical form written by [`HandoverEvent::to_json`] (or any event body
    /// read from a file): its `receivedAt` is kept, nothing is stamped, and `scan:` event
    /// ids (the scanner's own events) are accepted.
    ///
    /// # Errors
    /// As [`HandoverEvent::parse`], except for the reserved prefix.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        Self::read(bytes, Origin::Canonical)
    }

    fn read(body: &[u8], origin: Origin) -> Result<Self, EventError> {
        // One UTF-8 check of the whole body first, so the error says so wherever the bad
        // byte is (even inside a field we ignore).
        let text = std::str::from_utf8(body).map_err(|e| {
            EventError::InvalidJson(format!(
                "the body is not valid JSON: it is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        let root: Value = serde_json::from_str(text)
            .map_err(|e| EventError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(root) = root else {
            return Err(EventError::InvalidJson(
                "the body must be a JSON object".into(),
            ));
        };
        Self::from_object(&root, body, origin)
    }

    /// The canonical JSON form that is queued.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event always serialises: string keys, no maps")
    }

    /// The contact id the Signal API targets, unless absent or the placeholder.
    pub fn real_contact_id(&self) -> Option<&str> {
        self.cxone
            .contact_id
            .as_deref()
            .filter(|id| *id != PLACEHOLDER_CONTACT_ID)
    }

    fn from_object(root: &Fields, body: &[u8], origin: Origin) -> Result<Self, EventError> {
        if let Some(v) = root
            .get("conversationId")
            .or_else(|| root.get("conversation_id"))
            && is_object_text(v)
        {
            return Err(EventError::field(
                "conversationId",
                "conversationId arrived as the text [object Object]: the flow put an object inline; set it to {{input.sessionId}}",
            ));
        }
        let conversation_id = match get(root, "conversationId", "conversation_id") {
            None => None,
            Some(v) => scalar_string(v, "conversationId")?,
        };
        let conversation_id = conversation_id.ok_or(EventError::MissingConversationId)?;
        if conversation_id.chars().count() > MAX_ID_LEN {
            return Err(EventError::field(
                "conversationId",
                format!("conversationId is longer than {MAX_ID_LEN} characters"),
            ));
        }

        let occurred_at = match get(root, "occurredAt", "occurred_at") {
            None => None,
            Some(v) => parse_time(v, "occurredAt")?,
        };

        let event_id = match get(root, "eventId", "event_id") {
            None => None,
            Some(v) => scalar_string(v, "eventId")?,
        };
        if let Some(id) = &event_id
            && id.chars().count() > MAX_ID_LEN
        {
            return Err(EventError::field(
                "eventId",
                format!("eventId is longer than {MAX_ID_LEN} characters"),
            ));
        }
        if let (Origin::Webhook(_), Some(id)) = (origin, &event_id)
            && id.starts_with(RESERVED_EVENT_ID_PREFIX)
        {
            return Err(EventError::field(
                "eventId",
                format!(
                    "eventId must not start with {RESERVED_EVENT_ID_PREFIX:?}, which is reserved for the events handover-doctor's scan creates"
                ),
            ));
        }
        let received_at = match origin {
            Origin::Webhook(at) => Some(at),
            Origin::Canonical => match get(root, "receivedAt", "received_at") {
                None => None,
                Some(v) => parse_time(v, "receivedAt")?,
            },
        };
        let event_id = match event_id {
            Some(id) => id,
            None => {
                let id = derive_event_id(&conversation_id, occurred_at, body);
                // The derived id starts with the conversation id: it must not pass for a
                // scanner's event either.
                if matches!(origin, Origin::Webhook(_)) && id.starts_with(RESERVED_EVENT_ID_PREFIX)
                {
                    return Err(EventError::field(
                        "conversationId",
                        format!(
                            "conversationId must not start with {RESERVED_EVENT_ID_PREFIX:?} when no eventId is sent: the event id made from it would take the prefix reserved for handover-doctor's scan"
                        ),
                    ));
                }
                id
            }
        };

        let flow = object(root, "flow", "flow")?;
        let flow = FlowInfo {
            project_id: opt_str(flow, "flow.projectId", "projectId", "project_id")?,
            flow_name: opt_str(flow, "flow.flowName", "flowName", "flow_name")?,
            endpoint_type: opt_str(flow, "flow.endpointType", "endpointType", "endpoint_type")?,
            channel: opt_str(flow, "flow.channel", "channel", "channel")?,
            environment: opt_str(flow, "flow.environment", "environment", "environment")?,
        };

        let cx = object(root, "cxone", "cxone")?;
        let cxone = CxoneIds {
            business_unit: opt_str(cx, "cxone.businessUnit", "businessUnit", "business_unit")?,
            master_contact_id: opt_str(
                cx,
                "cxone.masterContactId",
                "masterContactId",
                "master_contact_id",
            )?,
            contact_id: match opt_str(cx, "cxone.contactId", "contactId", "contact_id")? {
                some @ Some(_) => some,
                None => opt_str(
                    cx,
                    "cxone.spawnedContactId",
                    "spawnedContactId",
                    "spawned_contact_id",
                )?,
            },
        };

        let h = object(root, "handover", "handover")?;
        let mechanism = match opt_str(h, "handover.mechanism", "mechanism", "mechanism")? {
            None => None,
            Some(m) => Some(Mechanism::parse(&m).ok_or_else(|| {
                EventError::field(
                    "handover.mechanism",
                    format!(
                        "handover.mechanism {m:?} is not one of cxone_signal, handover_provider, vg_transfer"
                    ),
                )
            })?),
        };
        let handover = HandoverInfo {
            mechanism,
            requested_action: opt_str(
                h,
                "handover.requestedAction",
                "requestedAction",
                "requested_action",
            )?,
            target_skill: opt_str(h, "handover.targetSkill", "targetSkill", "target_skill")?,
            signal_result: opt_str(h, "handover.signalResult", "signalResult", "signal_result")?,
            extension_error: opt_str(
                h,
                "handover.extensionError",
                "extensionError",
                "extension_error",
            )?,
            code_error: opt_str(h, "handover.codeError", "codeError", "code_error")?,
            provider_status: opt_str(
                h,
                "handover.providerStatus",
                "providerStatus",
                "provider_status",
            )?,
            provider_error_reason: opt_str(
                h,
                "handover.providerErrorReason",
                "providerErrorReason",
                "provider_error_reason",
            )?,
            provider_error_message: opt_str(
                h,
                "handover.providerErrorMessage",
                "providerErrorMessage",
                "provider_error_message",
            )?,
        };

        let vo = object(root, "voice", "voice")?;
        let voice = VoiceInfo {
            event: opt_str(vo, "voice.event", "event", "event")?,
            call_sid: opt_str(vo, "voice.callSid", "callSid", "call_sid")?,
            sip_call_id: opt_str(vo, "voice.sipCallId", "sipCallId", "sip_call_id")?,
            call_status: opt_str(vo, "voice.callStatus", "callStatus", "call_status")?,
            sip_status: opt_status(vo, "voice.sipStatus", "sipStatus", "sip_status")?,
            sip_reason: opt_str(vo, "voice.sipReason", "sipReason", "sip_reason")?,
            refer_status: opt_status(vo, "voice.referStatus", "referStatus", "refer_status")?,
            final_referred_call_status: opt_status(
                vo,
                "voice.finalReferredCallStatus",
                "finalReferredCallStatus",
                "final_referred_call_status",
            )?,
            dial_sip_status: opt_status(
                vo,
                "voice.dialSipStatus",
                "dialSipStatus",
                "dial_sip_status",
            )?,
            dial_call_status: opt_str(
                vo,
                "voice.dialCallStatus",
                "dialCallStatus",
                "dial_call_status",
            )?,
        };

        let context_keys = context_keys(root)?;
        let template_errors = match origin {
            Origin::Webhook(_) => template_errors(root),
            // Our own form lists them already (its fields hold no such text any more).
            Origin::Canonical => match root.get("templateErrors") {
                Some(Value::Array(listed)) => listed
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect(),
                _ => template_errors(root),
            },
        };

        Ok(HandoverEvent {
            event_id,
            occurred_at,
            received_at,
            conversation_id,
            user_id: opt_str(root, "userId", "userId", "user_id")?,
            trace_id: opt_str(root, "traceId", "traceId", "trace_id")?,
            flow,
            cxone,
            handover,
            voice,
            context_keys,
            template_errors,
        })
    }
}

/// The event id used when the flow sent none: stable for retries of the same body, and
/// never longer than [`MAX_ID_LEN`] (the canonical form carries it as `eventId`, which must
/// parse back).
fn derive_event_id(
    conversation_id: &str,
    occurred_at: Option<DateTime<Utc>>,
    body: &[u8],
) -> String {
    let suffix = match occurred_at {
        Some(at) => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => hex::encode(&Sha256::digest(body)[..8]),
    };
    let id = format!("{conversation_id}:{suffix}");
    if id.chars().count() <= MAX_ID_LEN {
        return id;
    }
    // A conversation id near the limit: keep its start plus a digest of all of it, so the
    // id stays unique per conversation as well as short enough.
    let digest = hex::encode(&Sha256::digest(conversation_id.as_bytes())[..8]);
    let room = MAX_ID_LEN - suffix.chars().count() - digest.len() - 2;
    let head: String = conversation_id.chars().take(room).collect();
    format!("{head}~{digest}:{suffix}")
}

/// The fields of a JSON object.
type Fields = Map<String, Value>;

/// `null`, a blank string, `{}` and `[]` mean "absent" (a template whose value was
/// undefined).
fn is_absent(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The text JavaScript makes of an object put inline with `{{…}}`.
const OBJECT_TEXT: &str = "[object Object]";

/// True for a value that is the text `[object Object]`: the flow had an object there, but
/// the template turned it into this text, so its content is lost.
fn is_object_text(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.trim() == OBJECT_TEXT)
}

fn get<'a>(obj: &'a Fields, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !is_absent(v) && !is_object_text(v))
}

/// The paths of the fields (outside `context`, whose values only count as present) that
/// arrived as `[object Object]`, sorted.
fn template_errors(root: &Fields) -> Vec<String> {
    fn walk(prefix: &str, obj: &Fields, out: &mut Vec<String>) {
        for (k, v) in obj {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(inner) if path != "context" => walk(&path, inner, out),
                v if is_object_text(v) && out.len() < 20 => out.push(path),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk("", root, &mut out);
    out
}

static EMPTY: LazyLock<Fields> = LazyLock::new(Fields::new);

fn object<'a>(root: &'a Fields, camel: &str, snake: &str) -> Result<&'a Fields, EventError> {
    match get(root, camel, snake) {
        None => Ok(&EMPTY),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(EventError::field(
            camel,
            format!("{camel} must be a JSON object"),
        )),
    }
}

fn scalar_string(v: &Value, path: &str) -> Result<Option<String>, EventError> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Null => Ok(None),
        _ => Err(EventError::field(
            path,
            format!("{path} must be a string or a number"),
        )),
    }
}

fn opt_str(
    obj: &Fields,
    path: &str,
    camel: &str,
    snake: &str,
) -> Result<Option<String>, EventError> {
    match get(obj, camel, snake) {
        None => Ok(None),
        // signalResult and the error fields are free text the flow copies from objects at
        // times; keep an object as its JSON text rather than refusing the event.
        Some(v @ (Value::Object(_) | Value::Array(_))) if path.starts_with("handover.") => {
            Ok(Some(v.to_string()))
        }
        Some(v) => scalar_string(v, path),
    }
}

fn opt_status(
    obj: &Fields,
    path: &str,
    camel: &str,
    snake: &str,
) -> Result<Option<u16>, EventError> {
    let Some(v) = get(obj, camel, snake) else {
        return Ok(None);
    };
    let bad = || {
        EventError::field(
            path,
            format!("{path} must be a SIP/HTTP status such as 488"),
        )
    };
    let n = match v {
        Value::Number(n) => n.as_u64().ok_or_else(bad)?,
        Value::String(s) => s.trim().parse::<u64>().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if !(100..=699).contains(&n) {
        return Err(bad());
    }
    Ok(Some(n as u16))
}

/// The keys of `context` whose values are not empty, sorted (the values are not kept:
/// they can hold customer data, and only their presence is diagnosed). Our own canonical
/// form carries the list as `contextKeys` instead.
fn context_keys(root: &Fields) -> Result<Vec<String>, EventError> {
    let keys: Vec<String> = match root.get("context") {
        None => Vec::new(),
        Some(Value::Object(o)) => o
            .iter()
            .filter(|(_, v)| !is_absent(v))
            .map(|(k, _)| k.clone())
            .collect(),
        Some(v) if is_absent(v) => Vec::new(),
        Some(_) => {
            return Err(EventError::field(
                "context",
                "context must be a JSON object",
            ));
        }
    };
    if keys.is_empty()
        && let Some(Value::Array(listed)) = root.get("contextKeys")
    {
        return Ok(listed
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect());
    }
    let mut keys = keys;
    keys.sort();
    Ok(keys)
}

fn parse_time(v: &Value, path: &str) -> Result<Option<DateTime<Utc>>, EventError> {
    let bad = || {
        EventError::field(
            path,
            format!("{path} must be an RFC 3339 time such as 2026-05-12T14:26:58Z"),
        )
    };
    let t = match v {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                Some(t.with_timezone(&Utc))
            } else if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
                // Cognigy's ISODate without an offset.
                Some(Utc.from_utc_datetime(&t))
            } else {
                // Epoch numbers sent as strings.
                s.parse::<i64>().ok().and_then(epoch)
            }
        }
        Value::Number(n) => n.as_i64().and_then(epoch),
        _ => None,
    };
    // Only years RFC 3339 can write: the canonical form must parse back (an epoch in
    // milliseconds far in the future once made year 10000, found by tests/it/proptests.rs).
    match t {
        Some(t) if (0..=9999).contains(&t.year()) => Ok(Some(t)),
        _ => Err(bad()),
    }
}

/// Unix seconds, or milliseconds when the number is too large to be seconds.
fn epoch(n: i64) -> Option<DateTime<Utc>> {
    if n > 100_000_000_000 {
        Utc.timestamp_millis_opt(n).single()
    } else {
        Utc.timestamp_opt(n, 0).single()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<HandoverEvent, EventError> {
        HandoverEvent::parse(s.as_bytes())
    }

    #[test]
    fn numbers_may_arrive_as_strings_and_empty_strings_mean_absent() {
        let e = parse(
            r#"{"conversationId":"s-1","occurredAt":"2026-05-12T14:26:58Z",
                "cxone":{"contactId":745512890123,"masterContactId":""},
                "voice":{"sipStatus":"488","referStatus":"","dialSipStatus":487},
                "unknown":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(e.cxone.contact_id.as_deref(), Some("745512890123"));
        assert_eq!(e.cxone.master_contact_id, None);
        assert_eq!(e.voice.sip_status, Some(488));
        assert_eq!(e.voice.refer_status, None);
        assert_eq!(e.voice.dial_sip_status, Some(487));
        assert_eq!(e.event_id, "s-1:2026-05-12T14:26:58Z");
    }

    #[test]
    fn missing_or_empty_conversation_id_is_refused() {
        assert_eq!(
            parse(r#"{"eventId":"x"}"#),
            Err(EventError::MissingConversationId)
        );
        assert_eq!(
            parse(r#"{"conversationId":"  "}"#),
            Err(EventError::MissingConversationId)
        );
    }

    #[test]
    fn too_long_conversation_id_is_an_invalid_field() {
        let long = "a".repeat(257);
        let err = parse(&format!(r#"{{"conversationId":"{long}"}}"#)).unwrap_err();
        assert!(
            matches!(err, EventError::InvalidField { ref field, .. } if field == "conversationId")
        );
        assert!(parse(&format!(r#"{{"conversationId":"{}"}}"#, "a".repeat(256))).is_ok());
    }

    #[test]
    fn a_non_object_body_is_invalid_json() {
        assert!(matches!(parse("[1,2]"), Err(EventError::InvalidJson(_))));
        assert!(matches!(parse("{nope"), Err(EventError::InvalidJson(_))));
    }

    #[test]
    fn a_body_that_is_not_utf8_is_invalid_json_wherever_the_bad_byte_is() {
        // Inside a string, inside a skipped field, and between tokens.
        for body in [
            &b"{\"conversationId\":\"c\xff\"}"[..],
            b"{\"conversationId\":\"c\",\"unknown\":\"\xc3\"}",
            b"{\"conversationId\":\"c\"}\xff",
        ] {
            let err = HandoverEvent::parse(body).unwrap_err();
            assert!(
                matches!(err, EventError::InvalidJson(ref d) if d.contains("UTF-8")),
                "{err:?}"
            );
        }
        // Multi-byte characters are fine, escaped or not.
        let e = parse(r#"{"conversationId":"ç-\u00e7-😀"}"#).unwrap();
        assert_eq!(e.conversation_id, "ç-ç-😀");
    }

    #[test]
    fn mechanisms_are_read_in_any_case_with_dashes_or_underscores() {
        for (text, want) in [
            ("cxone_signal", Some(Mechanism::CxoneSignal)),
            (" CXone-Signal ", Some(Mechanism::CxoneSignal)),
            ("Exit_Interaction", Some(Mechanism::CxoneSignal)),
            ("HANDOVER", Some(Mechanism::HandoverProvider)),
            ("handover-provider", Some(Mechanism::HandoverProvider)),
            ("voice-gateway-transfer", Some(Mechanism::VgTransfer)),
            ("vg_transfer", Some(Mechanism::VgTransfer)),
            ("vg__transfer", None),
            ("vgtransfer", None),
            ("transfers", None),
            ("", None),
        ] {
            assert_eq!(Mechanism::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_bad_status_names_its_field() {
        let err = parse(r#"{"conversationId":"c","voice":{"sipStatus":"busy"}}"#).unwrap_err();
        assert!(
            matches!(err, EventError::InvalidField { ref field, .. } if field == "voice.sipStatus")
        );
    }

    #[test]
    fn snake_case_keys_from_older_flows_are_understood() {
        let e = parse(
            r#"{"conversation_id":"c","cxone":{"spawned_contact_id":"42"},"handover":{"signal_result":"x"}}"#,
        )
        .unwrap();
        assert_eq!(e.conversation_id, "c");
        assert_eq!(e.cxone.contact_id.as_deref(), Some("42"));
        assert_eq!(e.handover.signal_result.as_deref(), Some("x"));
    }

    #[test]
    fn context_values_are_reduced_to_the_keys_present() {
        let e =
            parse(r#"{"conversationId":"c","context":{"routingData":{"a":1},"customerInfo":{}}}"#)
                .unwrap();
        assert_eq!(e.context_keys, vec!["routingData".to_string()]);
    }

    #[test]
    fn the_canonical_form_parses_back_to_the_same_event() {
        let e = parse(
            r#"{"conversationId":"c","userId":"4155550123","context":{"routingData":{"a":1}},
                "handover":{"mechanism":"cxone_signal","targetSkill":"Support"}}"#,
        )
        .unwrap();
        let back = HandoverEvent::from_json(&e.to_json()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn an_occurred_at_past_year_9999_is_an_invalid_field() {
        // Found by tests/it/proptests.rs: epoch milliseconds 253402300826820 were accepted
        // as year 10000, which RFC 3339 cannot write, so the canonical form did not parse.
        for at in [
            r#""253402300826820""#,
            "253402300826820",
            r#""9999-12-31T23:00:00-05:00""#,
        ] {
            let err = parse(&format!(r#"{{"conversationId":"c","occurredAt":{at}}}"#)).unwrap_err();
            assert!(
                matches!(err, EventError::InvalidField { ref field, .. } if field == "occurredAt"),
                "{at}: {err:?}"
            );
        }
        assert!(parse(r#"{"conversationId":"c","occurredAt":"9999-12-31T23:59:59Z"}"#).is_ok());
    }

    #[test]
    fn a_derived_event_id_never_exceeds_the_id_limit() {
        // Found by tests/it/proptests.rs: a 256-char conversationId made a 273-char event
        // id, and the canonical form then failed to parse back.
        let long = "a".repeat(MAX_ID_LEN);
        for body in [
            format!(r#"{{"conversationId":"{long}"}}"#),
            format!(r#"{{"conversationId":"{long}","occurredAt":"2026-05-12T14:26:58Z"}}"#),
        ] {
            let e = parse(&body).unwrap();
            assert!(e.event_id.chars().count() <= MAX_ID_LEN, "{}", e.event_id);
            assert_eq!(HandoverEvent::from_json(&e.to_json()), Ok(e));
        }
        let other = parse(&format!(r#"{{"conversationId":"{}b"}}"#, "a".repeat(255))).unwrap();
        let e = parse(&format!(r#"{{"conversationId":"{long}"}}"#)).unwrap();
        assert_ne!(other.event_id, e.event_id);
    }

    #[test]
    fn the_reader_keeps_json_map_semantics() {
        // Later duplicates win; escaped strings are read; unknown fields and context
        // values are skipped; a free-text field given an object keeps its JSON text.
        let e = parse(
            r#"{"conversationId":"first","conversationId":"c\u00e9","unknown":{"deep":[1,{"x":null}]},
                "handover":{"signalResult":{"error":"403"},"targetSkill":"A","targetSkill":""},
                "context":{"b":{"x":1},"a":"","b":null,"c":[0]}}"#,
        )
        .unwrap();
        assert_eq!(e.conversation_id, "c\u{e9}");
        assert_eq!(
            e.handover.signal_result.as_deref(),
            Some(r#"{"error":"403"}"#)
        );
        assert_eq!(e.handover.target_skill, None);
        assert_eq!(e.context_keys, vec!["c".to_string()]);
        assert!(matches!(
            parse(r#"{"conversationId":"c","context":"x"}"#),
            Err(EventError::InvalidField { ref field, .. }) if field == "context"
        ));
        assert!(matches!(
            parse(r#"{"conversationId":{"a":1}}"#),
            Err(EventError::InvalidField { ref field, .. }) if field == "conversationId"
        ));
        assert_eq!(
            parse(r#"{"conversationId":{}}"#),
            Err(EventError::MissingConversationId)
        );
        assert!(matches!(
            parse(r#""text""#),
            Err(EventError::InvalidJson(_))
        ));
        assert!(matches!(
            parse(r#"{"conversationId":"c"} trailing"#),
            Err(EventError::InvalidJson(_))
        ));
    }

    #[test]
    fn a_webhook_event_id_with_the_reserved_scan_prefix_is_an_invalid_event_id() {
        let err = parse(r#"{"conversationId":"c","eventId":"scan:745512890123"}"#).unwrap_err();
        assert!(
            matches!(err, EventError::InvalidField { ref field, .. } if field == "eventId"),
            "{err:?}"
        );
        assert!(err.to_string().contains("scan:"), "{err}");
        // The scanner's own events, read back off the queue, are fine.
        let e =
            HandoverEvent::from_json(br#"{"conversationId":"scan:1","eventId":"scan:1"}"#).unwrap();
        assert_eq!(e.event_id, "scan:1");
        // Only the prefix is reserved; an id derived from such a conversation id would take it.
        assert!(parse(r#"{"conversationId":"c","eventId":"rescan:1"}"#).is_ok());
        assert!(parse(r#"{"conversationId":"scan:1","eventId":"e-1"}"#).is_ok());
        let err = parse(r#"{"conversationId":"scan:1"}"#).unwrap_err();
        assert!(
            matches!(err, EventError::InvalidField { ref field, .. } if field == "conversationId"),
            "{err:?}"
        );
    }

    #[test]
    fn a_webhook_is_stamped_with_its_receive_time_which_the_canonical_form_keeps() {
        let at: DateTime<Utc> = "2026-05-12T14:27:01.412345678Z".parse().unwrap();
        let e = HandoverEvent::parse_received(br#"{"conversationId":"c"}"#, at).unwrap();
        // Kept to the millisecond.
        assert_eq!(
            e.received_at,
            Some("2026-05-12T14:27:01.412Z".parse().unwrap())
        );
        let canonical = e.to_json();
        assert!(
            String::from_utf8_lossy(&canonical)
                .contains(r#""receivedAt":"2026-05-12T14:27:01.412Z""#),
            "{}",
            String::from_utf8_lossy(&canonical)
        );
        assert_eq!(HandoverEvent::from_json(&canonical), Ok(e.clone()));
        // A webhook cannot set its own receive time; a file read with from_json has none
        // unless it says so.
        let spoofed = HandoverEvent::parse_received(
            br#"{"conversationId":"c","receivedAt":"2020-01-01T00:00:00Z"}"#,
            at,
        )
        .unwrap();
        assert_eq!(spoofed.received_at, e.received_at);
        assert_eq!(
            HandoverEvent::from_json(br#"{"conversationId":"c"}"#)
                .unwrap()
                .received_at,
            None
        );
        assert!(
            HandoverEvent::parse(br#"{"conversationId":"c"}"#)
                .unwrap()
                .received_at
                .is_some()
        );
    }

    #[test]
    fn without_occurred_at_the_event_id_is_stable_for_the_same_body() {
        let a = parse(r#"{"conversationId":"c"}"#).unwrap();
        let b = parse(r#"{"conversationId":"c"}"#).unwrap();
        assert_eq!(a.event_id, b.event_id);
        assert!(a.event_id.starts_with("c:"));
    }

    #[test]
    fn an_object_put_inline_is_read_as_absent_and_its_field_named() {
        let e = parse(
            r#"{"conversationId":"c","handover":{"signalResult":"[object Object]","extensionError":" [object Object] "},
                "voice":{"finalReferredCallStatus":"486"},"context":{"routingData":"[object Object]"}}"#,
        )
        .unwrap();
        assert_eq!(e.handover.signal_result, None);
        assert_eq!(e.handover.extension_error, None);
        assert_eq!(
            e.template_errors,
            vec!["handover.extensionError", "handover.signalResult"]
        );
        assert_eq!(e.voice.final_referred_call_status, Some(486));
        assert_eq!(e.context_keys, vec!["routingData".to_string()]);
        let back = HandoverEvent::from_json(&e.to_json()).unwrap();
        assert_eq!(back.template_errors, e.template_errors);
    }

    #[test]
    fn a_conversation_id_made_of_an_object_says_what_to_send_instead() {
        match parse(r#"{"conversationId":"[object Object]"}"#) {
            Err(EventError::InvalidField { field, detail }) => {
                assert_eq!(field, "conversationId");
                assert!(detail.contains("input.sessionId"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_typed_object_result_is_kept_as_its_json_text() {
        let e = parse(
            r#"{"conversationId":"c","handover":{"signalResult":{"success":false,"stage":"validation","error":"Client ID is required"}}}"#,
        )
        .unwrap();
        assert_eq!(
            e.handover.signal_result.as_deref(),
            Some(r#"{"error":"Client ID is required","stage":"validation","success":false}"#)
        );
    }
}
