//! A fake NICE CXone on a wiremock server, for any test that needs CXone.
//!
//! [`CxoneStub::start`] serves OpenID discovery, the token endpoint and API discovery,
//! with `token_endpoint` and `api_endpoint` pointing back at the stub, so a
//! [`CxoneClient`] built from [`CxoneStub::settings`] goes through the real flow. As on a
//! real tenant, the token's `iss` (the cluster, [`CxoneStub::cluster_issuer`]) is not the
//! configured issuer ([`CxoneStub::issuer`], under [`ISSUER_PATH`]): API discovery is
//! served only under `iss`, so a client that ignored the token's `iss` would fail. Then
//! mount what the test needs:
//!
//! ```ignore
//! let stub = CxoneStub::start().await;
//! stub.mount_story().await;                       // the abandoned-in-queue story of cxone.md
//! stub.contact(CONTACT_ID, 404, json!({})).await; // ... or any path / status / body
//! let client = stub.client();
//! ```
//!
//! Precedence: [`CxoneStub::mount_story`] mounts at a low priority, the per-path helpers
//! at wiremock's default, and [`CxoneStub::respond_times`] above both, so a test can
//! start from the story and override one answer, or inject a few failures before it.
//! Unmounted paths answer 404, which the client reads as "not found".
#![allow(dead_code)] // shared by several test modules; each uses only some helpers

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use handover_doctor::cxone::{CxoneClient, CxoneSettings};
use handover_doctor::metrics::Metrics;
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The stub's application credentials.
pub const CLIENT_ID: &str = "handover-doctor@acme";
/// The stub's application secret.
pub const CLIENT_SECRET: &str = "client-secret-Zq8";
/// Access keys end in `====`, which the token request must URL-encode.
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLEQ6JX3ZVJ7RN2M====";
/// The access key secret.
pub const ACCESS_KEY_SECRET: &str = "SECRETEXAMPLEH4K2P9WQ7TB5LX====";
/// The tenant the stub's tokens belong to.
pub const TENANT_ID: &str = "11ee0000-aaaa-bbbb-cccc-0242ac110002";
/// The contact of the fixtures (`shapes/contact_completed.json`).
pub const CONTACT_ID: &str = "745512890123";
/// Its master contact.
pub const MASTER_CONTACT_ID: &str = "745512890101";
/// The contact's (and the story's target) skill.
pub const SKILL_ID: &str = "4412877";
/// That skill's name.
pub const SKILL_NAME: &str = "Support_Voice_EN";
/// The hours profile that holds the skill (`shapes/hours_detail.json`).
pub const HOURS_PROFILE_ID: &str = "3302";
/// Another profile, without the skill (`shapes/hours_detail_other.json`).
pub const OTHER_HOURS_PROFILE_ID: &str = "3301";
/// The API version the stub serves.
pub const API_VERSION: &str = "v30.0";

/// Where the stub's configured issuer (`CXONE_ISSUER`) lives; the tokens' `iss` is the
/// stub's root instead.
pub const ISSUER_PATH: &str = "/global-auth";

/// Lower than wiremock's default (5): the story's answers yield to a test's own.
const STORY_PRIORITY: u8 = 8;

/// A fake CXone.
pub struct CxoneStub {
    /// The wiremock server, for custom mocks and request inspection.
    pub server: MockServer,
    /// The metrics registry clients from [`CxoneStub::client`] count into.
    pub metrics: Arc<Metrics>,
}

/// A fixture from `fixtures/cxone/shapes/{name}.json`, as recorded (production hosts).
pub fn shape(name: &str) -> Value {
    let file = format!(
        "{}/fixtures/cxone/shapes/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// An unsigned JWT (RS256 header, dummy signature) carrying `claims`.
pub fn unsigned_jwt(claims: &Value) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes()),
        b64(b"not-a-signature")
    )
}

impl CxoneStub {
    /// A stub serving discovery, tokens (for any credentials) and API discovery.
    pub async fn start() -> Self {
        let stub = Self::start_bare().await;
        stub.mount_openid_configuration().await;
        stub.mount_token(stub.token_response(3600)).await;
        stub.mount_cxone_configuration().await;
        stub
    }

    /// A stub serving nothing yet: for tests of discovery and token failures.
    pub async fn start_bare() -> Self {
        CxoneStub {
            server: MockServer::start().await,
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The configured issuer (`CXONE_ISSUER`): `http://127.0.0.1:<port>/global-auth`.
    pub fn issuer(&self) -> String {
        format!("{}{ISSUER_PATH}", self.uri())
    }

    /// The tokens' `iss`, where API discovery is served: the stub's root.
    pub fn cluster_issuer(&self) -> String {
        self.uri()
    }

    /// Settings for this stub: its issuer, the stub credentials, and fast retries
    /// (10–50 ms backoff, 2 s timeout) so failure tests stay quick.
    pub fn settings(&self) -> CxoneSettings {
        CxoneSettings {
            issuer: Url::parse(&self.issuer()).unwrap(),
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(SecretString::from(CLIENT_SECRET)),
            access_key_id: Some(SecretString::from(ACCESS_KEY_ID)),
            access_key_secret: Some(SecretString::from(ACCESS_KEY_SECRET)),
            api_version: API_VERSION.into(),
            request_timeout: Duration::from_secs(2),
            retry_base_delay: Duration::from_millis(10),
            retry_max_delay: Duration::from_millis(50),
            retry_after_cap: Duration::from_secs(2),
            retry_budget: Duration::from_secs(10),
            // Tests measure behaviour, not the quota: the limit's own test sets one.
            max_rps: 0,
            ..CxoneSettings::default()
        }
    }

    /// The `CXONE_*` variables that point a spawned binary (or `from_env_map`) at this
    /// stub, e.g. `Command::new(bin).envs(stub.env_vars())`. Retries then run at their
    /// production pace; prefer [`CxoneStub::settings`] in-process.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CXONE_ISSUER", self.issuer()),
            ("CXONE_CLIENT_ID", CLIENT_ID.into()),
            ("CXONE_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("CXONE_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("CXONE_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET.into()),
            ("CXONE_API_VERSION", API_VERSION.into()),
            ("CXONE_MAX_RPS", "0".into()),
        ]
    }

    /// A new client on [`CxoneStub::settings`], counting into [`CxoneStub::metrics`].
    pub fn client(&self) -> CxoneClient {
        self.client_with(self.settings())
    }

    /// A new client on custom settings (start from [`CxoneStub::settings`]).
    pub fn client_with(&self, settings: CxoneSettings) -> CxoneClient {
        CxoneClient::new(settings, self.metrics.clone()).expect("stub settings are complete")
    }

    /// A recorded shape with its production hosts replaced by the stub's.
    pub fn fixture(&self, name: &str) -> Value {
        let text = shape(name)
            .to_string()
            .replace("https://cxone.niceincontact.com", &self.uri())
            .replace("https://api-na1.niceincontact.com", &self.uri());
        serde_json::from_str(&text).unwrap()
    }

    /// The server path of an API path: `/contacts/1` → `/incontactapi/services/v30.0/contacts/1`.
    pub fn api_path(&self, rel: &str) -> String {
        format!(
            "/incontactapi/services/{API_VERSION}/{}",
            rel.trim_start_matches('/')
        )
    }

    /// A token response like `shapes/token.json`, whose id_token names the stub's
    /// [`CxoneStub::cluster_issuer`] as `iss`.
    pub fn token_response(&self, expires_in: u64) -> Value {
        let mut token = shape("token");
        let claims = json!({
            "sub": "user:11ee1111-2222-3333-4444-0242ac110002",
            "iss": self.cluster_issuer(),
            "tenantId": TENANT_ID,
            "icBUId": 4601234,
            "icClusterId": "B32",
            "aud": CLIENT_ID,
            "iat": 1_778_595_600u64,
            "exp": 1_778_595_600u64 + expires_in,
        });
        token["id_token"] = json!(unsigned_jwt(&claims));
        token["access_token"] = json!(unsigned_jwt(
            &json!({"tenantId": TENANT_ID, "n": uuid::Uuid::new_v4().to_string()})
        ));
        token["expires_in"] = json!(expires_in);
        token
    }

    /// `GET {issuer}/.well-known/openid-configuration` → the shape, pointing at the stub;
    /// also at the stub's root, for tests that use [`CxoneStub::uri`] as the issuer.
    pub async fn mount_openid_configuration(&self) {
        for at in [ISSUER_PATH, ""] {
            Mock::given(method("GET"))
                .and(path(format!("{at}/.well-known/openid-configuration")))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(self.fixture("openid_configuration")),
                )
                .named("openid-configuration")
                .mount(&self.server)
                .await;
        }
    }

    /// `POST /auth/token` → `body` (for any credentials).
    pub async fn mount_token(&self, body: Value) {
        Mock::given(method("POST"))
            .and(path("/auth/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .named("token")
            .mount(&self.server)
            .await;
    }

    /// `POST /auth/token` → `status` with an OAuth error body.
    pub async fn mount_token_error(&self, status: u16, error: &str) {
        Mock::given(method("POST"))
            .and(path("/auth/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({"error": error, "error_description": "The credentials are not valid"}),
            ))
            .named("token error")
            .mount(&self.server)
            .await;
    }

    /// `GET {iss}/.well-known/cxone-configuration?tenantId=…` → the shape, API at the
    /// stub. Not served under the configured issuer.
    pub async fn mount_cxone_configuration(&self) {
        Mock::given(method("GET"))
            .and(path("/.well-known/cxone-configuration"))
            .and(query_param("tenantId", TENANT_ID))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(self.fixture("cxone_configuration")),
            )
            .named("cxone-configuration")
            .mount(&self.server)
            .await;
    }

    /// `GET {api}/{rel}` → `status` with a JSON `body` (`Value::Null`: no body).
    pub async fn respond(&self, rel: &str, status: u16, body: Value) {
        self.respond_with(rel, template(status, body)).await;
    }

    /// `GET {api}/{rel}` → `template`.
    pub async fn respond_with(&self, rel: &str, template: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(self.api_path(rel)))
            .respond_with(template)
            .named(rel.to_string())
            .mount(&self.server)
            .await;
    }

    /// `GET {api}/{rel}` → `template` for the next `times` requests only, ahead of any
    /// other answer for the path (to inject failures before a good answer).
    pub async fn respond_times(&self, rel: &str, times: u64, template: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(self.api_path(rel)))
            .respond_with(template)
            .up_to_n_times(times)
            .with_priority(1)
            .named(format!("{rel} (first {times})"))
            .mount(&self.server)
            .await;
    }

    /// `GET /contacts/{id}`.
    pub async fn contact(&self, id: &str, status: u16, body: Value) {
        self.respond(&format!("contacts/{id}"), status, body).await;
    }

    /// `GET /contacts/{id}/statehistory`.
    pub async fn state_history(&self, id: &str, status: u16, body: Value) {
        self.respond(&format!("contacts/{id}/statehistory"), status, body)
            .await;
    }

    /// `GET /contacts/{id}/hierarchy`.
    pub async fn hierarchy(&self, id: &str, status: u16, body: Value) {
        self.respond(&format!("contacts/{id}/hierarchy"), status, body)
            .await;
    }

    /// `GET /contacts/active?contactId={id}`.
    pub async fn active(&self, id: &str, status: u16, body: Value) {
        Mock::given(method("GET"))
            .and(path(self.api_path("contacts/active")))
            .and(query_param("contactId", id))
            .respond_with(template(status, body))
            .named("contacts/active")
            .mount(&self.server)
            .await;
    }

    /// `GET /skills/{id}`.
    pub async fn skill(&self, id: &str, status: u16, body: Value) {
        self.respond(&format!("skills/{id}"), status, body).await;
    }

    /// `GET /skills/{id}/agents`.
    pub async fn skill_agents(&self, id: &str, status: u16, body: Value) {
        self.respond(&format!("skills/{id}/agents"), status, body)
            .await;
    }

    /// `GET /skills/{id}/activity`.
    pub async fn skill_activity(&self, id: &str, status: u16, body: Value) {
        self.respond(&format!("skills/{id}/activity"), status, body)
            .await;
    }

    /// `GET /contacts/completed` pages: page `i` answers `skip` = the entries before it.
    pub async fn completed_pages(&self, pages: &[Value]) {
        let mut skip = 0usize;
        for page in pages {
            Mock::given(method("GET"))
                .and(path(self.api_path("contacts/completed")))
                .and(query_param("skip", skip.to_string()))
                .respond_with(ResponseTemplate::new(200).set_body_json(page))
                .named(format!("contacts/completed skip={skip}"))
                .mount(&self.server)
                .await;
            skip += page["completedContacts"].as_array().map_or(0, Vec::len);
        }
    }

    /// The whole story of cxone.md section 3 for [`CONTACT_ID`] on [`SKILL_ID`], from the
    /// recorded shapes: a completed voice contact that abandoned in queue, its state
    /// history, hierarchy, no longer active (204), the skill (also in the skills list),
    /// its agents, its activity (3 logged in, 0 available, 7 queued), and the hours
    /// profiles (the second holds the skill), and the state descriptions. Mounted at low
    /// priority: override freely.
    pub async fn mount_story(&self) {
        let mounts: Vec<(String, u16, Value)> = vec![
            (
                format!("contacts/{CONTACT_ID}"),
                200,
                self.fixture("contact_completed"),
            ),
            (
                format!("contacts/{CONTACT_ID}/statehistory"),
                200,
                self.fixture("statehistory"),
            ),
            (
                format!("contacts/{CONTACT_ID}/hierarchy"),
                200,
                self.fixture("hierarchy"),
            ),
            ("contacts/active".into(), 204, Value::Null),
            (format!("skills/{SKILL_ID}"), 200, self.fixture("skill")),
            ("skills".into(), 200, self.fixture("skills_list")),
            (
                format!("skills/{SKILL_ID}/agents"),
                200,
                self.fixture("skill_agents"),
            ),
            (
                format!("skills/{SKILL_ID}/activity"),
                200,
                self.fixture("skill_activity"),
            ),
            ("hours-of-operation".into(), 200, self.fixture("hours_list")),
            (
                format!("hours-of-operation/{OTHER_HOURS_PROFILE_ID}"),
                200,
                self.fixture("hours_detail_other"),
            ),
            (
                format!("hours-of-operation/{HOURS_PROFILE_ID}"),
                200,
                self.fixture("hours_detail"),
            ),
            (
                "contact-state-descriptions".into(),
                200,
                self.fixture("contact_state_descriptions"),
            ),
        ];
        for (rel, status, body) in mounts {
            Mock::given(method("GET"))
                .and(path(self.api_path(&rel)))
                .respond_with(template(status, body))
                .with_priority(STORY_PRIORITY)
                .named(format!("story {rel}"))
                .mount(&self.server)
                .await;
        }
    }

    /// Every request the stub received.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// Requests to one exact server path (e.g. `/auth/token`).
    pub async fn requests_to_path(&self, server_path: &str) -> Vec<Request> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.url.path() == server_path)
            .collect()
    }

    /// How many requests reached `GET {api}/{rel}`.
    pub async fn api_requests(&self, rel: &str) -> usize {
        self.requests_to_path(&self.api_path(rel)).await.len()
    }

    /// How many token requests were made.
    pub async fn token_requests(&self) -> usize {
        self.requests_to_path("/auth/token").await.len()
    }
}

fn template(status: u16, body: Value) -> ResponseTemplate {
    let t = ResponseTemplate::new(status);
    if body.is_null() {
        t
    } else {
        t.set_body_json(body)
    }
}
