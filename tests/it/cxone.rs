//! The CXone client against a fake CXone: discovery and token flow, token sharing,
//! re-authentication, retries, version drift, paging, caching, and `gather`.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use handover_doctor::cxone::{CxoneError, gather};
use handover_doctor::diagnosis::evidence::{CxoneEvidence, Lookup, ProblemKind};
use handover_doctor::event::HandoverEvent;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;
use wiremock::matchers::{basic_auth, header, method, path};

use crate::support::cxone_stub::*;

fn event(contact_id: &str, target_skill: Option<&str>) -> HandoverEvent {
    let mut body = json!({
        "conversationId": "conv-1",
        "occurredAt": "2026-05-12T14:26:58Z",
        "cxone": {"contactId": contact_id, "masterContactId": MASTER_CONTACT_ID},
        "handover": {"mechanism": "cxone_signal"}
    });
    if let Some(s) = target_skill {
        body["handover"]["targetSkill"] = json!(s);
    }
    HandoverEvent::parse(body.to_string().as_bytes()).unwrap()
}

fn facts(e: CxoneEvidence) -> handover_doctor::diagnosis::evidence::CxoneFacts {
    match e {
        CxoneEvidence::Checked(f) => *f,
        other => panic!("expected Checked, got {other:?}"),
    }
}

#[tokio::test]
async fn discovery_and_token_follow_the_cxone_flow() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    let token = stub.token_response(3600);
    // Only the exact CXone token request gets a token.
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .and(basic_auth(CLIENT_ID, CLIENT_SECRET))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token.clone()))
        .expect(1)
        .mount(&stub.server)
        .await;
    stub.mount_cxone_configuration().await;
    stub.contact(CONTACT_ID, 200, stub.fixture("contact_completed"))
        .await;

    let client = stub.client();
    let contact = client.get_contact(CONTACT_ID).await.unwrap().unwrap();
    assert_eq!(contact.contact_id.as_deref(), Some(CONTACT_ID));

    let token_request = &stub.requests_to_path("/auth/token").await[0];
    let form = String::from_utf8(token_request.body.clone()).unwrap();
    let mut fields: Vec<&str> = form.split('&').collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "grant_type=password",
            "password=SECRETEXAMPLEH4K2P9WQ7TB5LX%3D%3D%3D%3D",
            "username=AKIDEXAMPLEQ6JX3ZVJ7RN2M%3D%3D%3D%3D",
        ]
    );
    // API discovery follows the token's `iss` (the cluster), not CXONE_ISSUER.
    assert_ne!(stub.cluster_issuer(), stub.issuer());
    assert!(
        stub.requests_to_path(&format!("{ISSUER_PATH}/.well-known/cxone-configuration"))
            .await
            .is_empty()
    );
    let discovery = &stub
        .requests_to_path("/.well-known/cxone-configuration")
        .await[0];
    assert_eq!(
        discovery.url.query(),
        Some(format!("tenantId={TENANT_ID}").as_str())
    );
    let api = &stub
        .requests_to_path(&stub.api_path(&format!("contacts/{CONTACT_ID}")))
        .await[0];
    let bearer = api.headers.get("authorization").unwrap().to_str().unwrap();
    assert_eq!(
        bearer,
        format!("Bearer {}", token["access_token"].as_str().unwrap())
    );
    let line = client.check().await.unwrap();
    assert!(line.contains(TENANT_ID), "{line}");
    assert!(line.contains("/incontactapi/services/v30.0"), "{line}");
}

#[tokio::test]
async fn the_api_url_override_skips_api_discovery() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_token(stub.token_response(3600)).await;
    stub.skill(SKILL_ID, 200, stub.fixture("skill")).await;
    let mut settings = stub.settings();
    settings.api_url_override = Some(url::Url::parse(&stub.uri()).unwrap());
    let skill = stub.client_with(settings).skill(SKILL_ID).await.unwrap();
    assert_eq!(skill.unwrap().skill_name.as_deref(), Some(SKILL_NAME));
    assert!(
        stub.requests_to_path("/.well-known/cxone-configuration")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn one_token_serves_many_calls() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    client.get_contact(CONTACT_ID).await.unwrap();
    client.hierarchy(CONTACT_ID).await.unwrap();
    client.is_active(CONTACT_ID).await.unwrap();
    client.check().await.unwrap();
    assert_eq!(stub.token_requests().await, 1);
    assert_eq!(
        stub.requests_to_path(&format!("{ISSUER_PATH}/.well-known/openid-configuration"))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn twenty_concurrent_callers_share_a_single_token_request() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_cxone_configuration().await;
    // A slow token endpoint makes every caller arrive while the first fetch runs.
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(stub.token_response(3600))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&stub.server)
        .await;
    stub.mount_story().await;
    let client = stub.client();
    let calls = (0..20).map(|_| client.get_contact(CONTACT_ID));
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(|r| matches!(r, Ok(Some(_)))));
    assert_eq!(stub.token_requests().await, 1);
    assert_eq!(
        stub.api_requests(&format!("contacts/{CONTACT_ID}")).await,
        20
    );
}

#[tokio::test]
async fn a_401_re_authenticates_once_and_retries() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let rel = format!("contacts/{CONTACT_ID}");
    stub.respond_times(&rel, 1, ResponseTemplate::new(401))
        .await;
    let client = stub.client();
    let contact = client.get_contact(CONTACT_ID).await.unwrap();
    assert!(contact.is_some());
    assert_eq!(stub.token_requests().await, 2);
    assert_eq!(stub.api_requests(&rel).await, 2);
}

#[tokio::test]
async fn a_401_to_a_fresh_token_is_an_auth_failure() {
    let stub = CxoneStub::start().await;
    let rel = format!("contacts/{CONTACT_ID}");
    stub.respond(&rel, 401, Value::Null).await;
    let err = stub.client().get_contact(CONTACT_ID).await.unwrap_err();
    assert!(matches!(err, CxoneError::AuthFailed { .. }), "{err:?}");
    assert_eq!(stub.api_requests(&rel).await, 2);
    assert_eq!(stub.token_requests().await, 2);
}

#[tokio::test]
async fn a_refused_token_makes_cxone_unreachable_with_auth_failed() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_token_error(401, "invalid_client").await;
    let client = stub.client();
    let e = gather(Some(&client), Some(&event(CONTACT_ID, None)), None).await;
    let CxoneEvidence::Unreachable(problem) = e else {
        panic!("expected Unreachable, got {e:?}");
    };
    assert_eq!(problem.kind, ProblemKind::AuthFailed);
    assert!(problem.detail.contains("401"), "{}", problem.detail);
    assert!(
        problem.detail.contains("invalid_client"),
        "{}",
        problem.detail
    );
    assert!(!problem.detail.contains(CLIENT_SECRET));
    // A refused login is an answer: asked once, not retried.
    assert_eq!(stub.token_requests().await, 1);
}

#[tokio::test]
async fn a_missing_discovery_document_is_an_auth_failure_naming_the_issuer_variable() {
    let stub = CxoneStub::start_bare().await;
    let err = stub.client().check().await.unwrap_err();
    assert!(matches!(err, CxoneError::AuthFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("CXONE_ISSUER"), "{err}");
}

#[tokio::test]
async fn retry_after_is_honoured_on_429() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let rel = format!("skills/{SKILL_ID}");
    stub.respond_times(
        &rel,
        1,
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
    )
    .await;
    let client = stub.client();
    client.check().await.unwrap();
    let started = Instant::now();
    let skill = client.skill(SKILL_ID).await.unwrap();
    let waited = started.elapsed();
    assert!(skill.is_some());
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    // Well under the stub's 2 s cap plus backoff: the wait was the header's.
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(stub.api_requests(&rel).await, 2);
    assert_eq!(
        stub.metrics.count(
            "cxone_requests",
            &[("endpoint", "/skills/{id}"), ("status", "429")]
        ),
        1
    );
}

#[tokio::test]
async fn a_429_holds_every_other_request_of_the_process_for_its_retry_after() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    stub.respond_times(
        &format!("skills/{SKILL_ID}"),
        1,
        ResponseTemplate::new(429).insert_header("Retry-After", "2"),
    )
    .await;
    let client = stub.client();
    client.check().await.unwrap();
    let throttled = client.skill(SKILL_ID);
    let other = async {
        // Sent once the 429 has been answered (the client counts it in the same step
        // that pauses the limiter): it must wait for the pause too.
        while stub.metrics.count(
            "cxone_requests",
            &[("endpoint", "/skills/{id}"), ("status", "429")],
        ) == 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = Instant::now();
        client.skill_activity(SKILL_ID).await.unwrap();
        started.elapsed()
    };
    let (skill, waited) = tokio::join!(throttled, other);
    assert!(skill.unwrap().is_some());
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
}

#[tokio::test]
async fn server_errors_are_retried_until_the_bound_then_unavailable() {
    let stub = CxoneStub::start().await;
    let rel = format!("skills/{SKILL_ID}/activity");
    stub.respond(&rel, 503, json!({"error": "ServiceUnavailable"}))
        .await;
    let err = stub.client().skill_activity(SKILL_ID).await.unwrap_err();
    assert!(matches!(err, CxoneError::Unavailable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(err.to_string().contains("503"), "{err}");
    // One attempt plus max_retries (4).
    assert_eq!(stub.api_requests(&rel).await, 5);
    assert_eq!(
        stub.metrics.count(
            "cxone_requests",
            &[("endpoint", "/skills/{id}/activity"), ("status", "503")]
        ),
        5
    );
}

#[tokio::test]
async fn a_timeout_is_retried_and_counted_as_timeout() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let rel = format!("contacts/{CONTACT_ID}/hierarchy");
    stub.respond_times(
        &rel,
        1,
        ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)),
    )
    .await;
    let mut settings = stub.settings();
    settings.request_timeout = Duration::from_millis(500);
    let client = stub.client_with(settings);
    let h = client.hierarchy(CONTACT_ID).await.unwrap().unwrap();
    assert_eq!(h.master_contact_id.as_deref(), Some(MASTER_CONTACT_ID));
    // At least the injected one (a loaded machine may add its own).
    let timeouts = stub.metrics.count(
        "cxone_requests",
        &[
            ("endpoint", "/contacts/{id}/hierarchy"),
            ("status", "timeout"),
        ],
    );
    assert!(timeouts >= 1, "{timeouts}");
}

#[tokio::test]
async fn a_403_is_forbidden_at_once_without_retry() {
    let stub = CxoneStub::start().await;
    let rel = format!("contacts/{CONTACT_ID}");
    stub.contact(CONTACT_ID, 403, json!({"error": "Forbidden"}))
        .await;
    let err = stub.client().get_contact(CONTACT_ID).await.unwrap_err();
    assert!(matches!(err, CxoneError::Forbidden { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(stub.api_requests(&rel).await, 1);
}

#[tokio::test]
async fn version_drifted_field_names_and_wrappers_read_alike() {
    let stub = CxoneStub::start().await;
    stub.contact("1", 200, stub.fixture("contact_v1x_result_set"))
        .await;
    stub.contact("2", 200, stub.fixture("contact_completed"))
        .await;
    stub.contact("3", 200, stub.fixture("contact_active")).await;
    let client = stub.client();
    let old = client.get_contact("1").await.unwrap().unwrap();
    let new = client.get_contact("2").await.unwrap().unwrap();
    let active = client.get_contact("3").await.unwrap().unwrap();
    for c in [&old, &new] {
        assert_eq!(c.contact_start_date, new.contact_start_date);
        assert_eq!(c.media_type_id.as_deref(), Some("4"));
        assert_eq!(c.abandoned, Some(true));
        assert_eq!(c.in_queue_seconds, Some(76.0));
        assert_eq!(c.agent_id, None);
    }
    assert_eq!(active.state_name.as_deref(), Some("InQueue"));
    assert_eq!(active.total_duration_seconds, None);
}

#[tokio::test]
async fn no_content_answers_mean_nothing_there() {
    let stub = CxoneStub::start().await;
    stub.contact(CONTACT_ID, 204, Value::Null).await;
    stub.active(CONTACT_ID, 204, Value::Null).await;
    stub.skill_agents(SKILL_ID, 204, Value::Null).await;
    stub.skill_activity(SKILL_ID, 200, json!({"skillActivity": []}))
        .await;
    let client = stub.client();
    assert_eq!(client.get_contact(CONTACT_ID).await.unwrap(), None);
    assert!(!client.is_active(CONTACT_ID).await.unwrap());
    assert_eq!(client.skill_agents(SKILL_ID).await.unwrap(), Some(vec![]));
    assert_eq!(client.skill_activity(SKILL_ID).await.unwrap(), None);
    assert_eq!(client.get_contact("999").await.unwrap(), None);
}

#[tokio::test]
async fn an_active_contact_is_seen_as_still_active() {
    let stub = CxoneStub::start().await;
    stub.active(CONTACT_ID, 200, stub.fixture("contacts_active"))
        .await;
    stub.active("745512890999", 200, stub.fixture("contacts_active"))
        .await;
    let client = stub.client();
    assert!(client.is_active(CONTACT_ID).await.unwrap());
    // An old version that ignores the filter lists other contacts: not ours.
    assert!(!client.is_active("745512890999").await.unwrap());
}

#[tokio::test]
async fn state_history_falls_back_to_the_dashed_path_and_remembers_it() {
    let stub = CxoneStub::start().await;
    let plain = format!("contacts/{CONTACT_ID}/statehistory");
    let dashed = format!("contacts/{CONTACT_ID}/state-history");
    stub.respond(&dashed, 200, stub.fixture("statehistory"))
        .await;
    let client = stub.client();
    let states = client.state_history(CONTACT_ID).await.unwrap().unwrap();
    let names: Vec<&str> = states
        .iter()
        .map(|s| s.contact_state_name.as_deref().unwrap())
        .collect();
    assert_eq!(names, vec!["PreQueue", "InQueue", "Released"]);
    client.state_history(CONTACT_ID).await.unwrap().unwrap();
    assert_eq!(stub.api_requests(&plain).await, 1);
    assert_eq!(stub.api_requests(&dashed).await, 2);
    // Neither path knows the contact: not found.
    assert_eq!(client.state_history("42").await.unwrap(), None);
}

#[tokio::test]
async fn skill_by_name_pages_the_skills_list_and_ignores_case() {
    let stub = CxoneStub::start().await;
    let mut first = stub.fixture("skills_list");
    first["skills"] = json!([first["skills"][0].clone(), first["skills"][2].clone()]);
    first["_links"]["next"] = json!(format!(
        "{}/incontactapi/services/v30.0/skills?top=2&skip=2",
        stub.uri()
    ));
    let mut second = stub.fixture("skills_list");
    second["skills"] = json!([second["skills"][1].clone()]);
    wiremock::Mock::given(method("GET"))
        .and(path(stub.api_path("skills")))
        .and(wiremock::matchers::query_param("skip", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .mount(&stub.server)
        .await;
    wiremock::Mock::given(method("GET"))
        .and(path(stub.api_path("skills")))
        .and(wiremock::matchers::query_param("skip", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .mount(&stub.server)
        .await;
    let client = stub.client();
    let skill = client
        .skill_by_name(" support_voice_en ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(skill.skill_id.as_deref(), Some(SKILL_ID));
    assert_eq!(client.skill_by_name("Nope").await.unwrap(), None);
    // The list is cached: both look-ups cost two pages.
    assert_eq!(stub.api_requests("skills").await, 2);
}

#[tokio::test]
async fn completed_contacts_follow_next_links_until_the_last_page() {
    let stub = CxoneStub::start().await;
    stub.completed_pages(&[
        stub.fixture("completed_contacts_page1"),
        stub.fixture("completed_contacts_page2"),
    ])
    .await;
    let client = stub.client();
    let start = Utc.with_ymd_and_hms(2026, 5, 12, 14, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 5, 12, 15, 0, 0).unwrap();
    let contacts = client
        .completed_contacts(start, end, Some(4), None)
        .await
        .unwrap();
    let ids: Vec<&str> = contacts
        .iter()
        .map(|c| c.contact_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, vec![CONTACT_ID, "745512890301", "745512890477"]);
    let reqs = stub
        .requests_to_path(&stub.api_path("contacts/completed"))
        .await;
    assert_eq!(reqs.len(), 2);
    let first = reqs[0].url.query().unwrap();
    assert!(
        first.contains("startDate=2026-05-12T14%3A00%3A00Z"),
        "{first}"
    );
    assert!(first.contains("mediaTypeId=4"), "{first}");
    // The second request is the link, replayed on the stub.
    assert!(reqs[1].url.query().unwrap().contains("skip=2"));
}

#[tokio::test]
async fn completed_contacts_page_by_skip_without_links_and_stop_on_no_content() {
    let stub = CxoneStub::start().await;
    let page = |ids: &[u64]| json!({"completedContacts": ids.iter().map(|id| json!({"contactId": id})).collect::<Vec<_>>()});
    stub.completed_pages(&[page(&[1, 2]), page(&[3, 4])]).await;
    // After four contacts, the API has nothing more: 204.
    wiremock::Mock::given(method("GET"))
        .and(path(stub.api_path("contacts/completed")))
        .and(wiremock::matchers::query_param("skip", "4"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&stub.server)
        .await;
    let client = stub.client();
    let now = Utc::now();
    let mut query =
        handover_doctor::cxone::CompletedContactsQuery::new(now - chrono::Duration::hours(1), now);
    query.page_size = 2;
    query.skill_id = Some(SKILL_ID.into());
    let mut pages = client.completed_contacts_pages(query);
    let mut sizes = Vec::new();
    while let Some(p) = pages.next_page().await.unwrap() {
        sizes.push(p.len());
    }
    assert_eq!(sizes, vec![2, 2]);
    let reqs = stub
        .requests_to_path(&stub.api_path("contacts/completed"))
        .await;
    assert_eq!(reqs.len(), 3);
    assert!(reqs[0].url.query().unwrap().contains("skillId=4412877"));
}

#[tokio::test]
async fn gather_reads_contact_and_skill_story() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    let f = facts(gather(Some(&client), Some(&event(CONTACT_ID, None)), None).await);
    let contact = f.contact.found().expect("contact");
    assert_eq!(contact.skill_id.as_deref(), Some(SKILL_ID));
    assert_eq!(f.states.found().map(Vec::len), Some(3));
    // The record names its master and shows its end: neither /hierarchy nor
    // /contacts/active has anything to add, so neither is asked.
    assert_eq!(f.hierarchy, Lookup::NotLooked);
    assert_eq!(f.still_active, Lookup::Found(false));
    assert_eq!(
        stub.api_requests(&format!("contacts/{CONTACT_ID}/hierarchy"))
            .await,
        0
    );
    assert_eq!(stub.api_requests("contacts/active").await, 0);
    assert_eq!(
        f.skill.found().unwrap().skill_name.as_deref(),
        Some(SKILL_NAME)
    );
    assert_eq!(f.skill_agents.found().map(Vec::len), Some(2));
    assert_eq!(
        f.skill_activity.found().unwrap().agents_available,
        Some(0.0)
    );
    let hours = f.hours.found().expect("hours profile");
    assert_eq!(
        hours.hours_of_operation_profile_id.as_deref(),
        Some(HOURS_PROFILE_ID)
    );
}

#[tokio::test]
async fn gather_resolves_a_target_skill_name_and_keeps_failures_separate() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    stub.skill_agents(SKILL_ID, 403, json!({"error": "Forbidden"}))
        .await;
    stub.skill(SKILL_ID, 500, Value::Null).await;
    let client = stub.client();
    let f = facts(
        gather(
            Some(&client),
            Some(&event(CONTACT_ID, Some("support_voice_en"))),
            None,
        )
        .await,
    );
    // The detail read failed, so the skills-list entry stands in for it.
    assert_eq!(f.skill.found().unwrap().skill_id.as_deref(), Some(SKILL_ID));
    let Lookup::Failed(problem) = &f.skill_agents else {
        panic!("expected a failed agents look-up, got {:?}", f.skill_agents);
    };
    assert_eq!(problem.kind, ProblemKind::Forbidden);
    assert_eq!(problem.what, format!("GET /skills/{SKILL_ID}/agents"));
    assert!(f.skill_activity.found().is_some());
    assert!(f.contact.found().is_some());
}

#[tokio::test]
async fn gather_skips_contact_reads_for_the_placeholder_and_reports_unknown_skills() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    let f = facts(
        gather(
            Some(&client),
            Some(&event("100000000000", Some("No_Such_Skill"))),
            None,
        )
        .await,
    );
    assert_eq!(f.contact, Lookup::NotLooked);
    assert_eq!(f.states, Lookup::NotLooked);
    assert_eq!(f.still_active, Lookup::NotLooked);
    assert_eq!(f.skill, Lookup::NotFound);
    assert_eq!(f.skill_agents, Lookup::NotLooked);
    assert_eq!(
        stub.api_requests("contacts/100000000000").await,
        0,
        "the placeholder is never looked up"
    );
    // A contact id that is not a number names no contact: not found, without asking.
    let f = facts(
        gather(
            Some(&client),
            Some(&event("{{context.contactId}}", None)),
            None,
        )
        .await,
    );
    assert_eq!(f.contact, Lookup::NotFound);
    assert_eq!(f.states, Lookup::NotLooked);
    let contact_reads = stub
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path().contains("/contacts/"))
        .count();
    assert_eq!(contact_reads, 0);
    // A scanned contact id (no event) is looked up, skill taken from the contact.
    let f = facts(gather(Some(&client), None, Some(CONTACT_ID)).await);
    assert!(f.contact.found().is_some());
    assert_eq!(f.skill.found().unwrap().skill_id.as_deref(), Some(SKILL_ID));
}

#[tokio::test]
async fn a_burst_of_gathers_on_one_skill_reads_the_skill_once() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    let ev = event(CONTACT_ID, Some(SKILL_ID));
    let burst = (0..10).map(|_| gather(Some(&client), Some(&ev), None));
    for e in futures_util::future::join_all(burst).await {
        assert!(facts(e).skill.found().is_some());
    }
    for _ in 0..3 {
        facts(gather(Some(&client), Some(&ev), None).await);
    }
    for rel in [
        format!("skills/{SKILL_ID}"),
        format!("skills/{SKILL_ID}/agents"),
        format!("skills/{SKILL_ID}/activity"),
        "hours-of-operation".to_string(),
        format!("hours-of-operation/{HOURS_PROFILE_ID}"),
    ] {
        assert_eq!(stub.api_requests(&rel).await, 1, "{rel}");
    }
    // Contact reads are never cached: each diagnosis sees the contact as it is now.
    assert_eq!(
        stub.api_requests(&format!("contacts/{CONTACT_ID}")).await,
        13
    );
}

#[tokio::test]
async fn with_caching_off_every_gather_reads_the_skill_again() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let mut settings = stub.settings();
    settings.cache_ttl = Duration::ZERO;
    let client = stub.client_with(settings);
    let ev = event(CONTACT_ID, Some(SKILL_ID));
    for _ in 0..2 {
        facts(gather(Some(&client), Some(&ev), None).await);
    }
    assert_eq!(stub.api_requests(&format!("skills/{SKILL_ID}")).await, 2);
}

#[tokio::test]
async fn a_refused_login_is_not_retried_for_every_job_of_a_burst() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_token_error(400, "invalid_grant").await;
    let client = stub.client();
    let ev = event(CONTACT_ID, None);
    for _ in 0..5 {
        let e = gather(Some(&client), Some(&ev), None).await;
        assert!(
            matches!(&e, CxoneEvidence::Unreachable(p) if p.kind == ProblemKind::AuthFailed),
            "{e:?}"
        );
    }
    assert_eq!(stub.token_requests().await, 1);
}

#[tokio::test]
async fn an_unanswering_discovery_makes_cxone_unreachable_with_unavailable() {
    let stub = CxoneStub::start_bare().await;
    let discovery = format!("{ISSUER_PATH}/.well-known/openid-configuration");
    wiremock::Mock::given(method("GET"))
        .and(path(discovery.as_str()))
        .respond_with(ResponseTemplate::new(502))
        .mount(&stub.server)
        .await;
    let client = stub.client();
    let e = gather(Some(&client), Some(&event(CONTACT_ID, None)), None).await;
    let CxoneEvidence::Unreachable(problem) = e else {
        panic!("expected Unreachable, got {e:?}");
    };
    assert_eq!(problem.kind, ProblemKind::Unavailable);
    assert_eq!(stub.requests_to_path(&discovery).await.len(), 5);
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_cxone_configuration().await;
    // A two-second token is renewed at half-life.
    stub.mount_token(stub.token_response(2)).await;
    stub.mount_story().await;
    let client = stub.client();
    client.get_contact(CONTACT_ID).await.unwrap();
    client.get_contact(CONTACT_ID).await.unwrap();
    assert_eq!(stub.token_requests().await, 1);
    // Waiting for the clock, not for work: the token has to age past its renewal point.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.get_contact(CONTACT_ID).await.unwrap();
    assert_eq!(stub.token_requests().await, 2);
    // Discovery is kept: only the token was fetched again.
    assert_eq!(
        stub.requests_to_path("/.well-known/cxone-configuration")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn metrics_count_discovery_token_and_api_requests_by_template() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    client.get_contact(CONTACT_ID).await.unwrap();
    client.get_contact("555").await.unwrap();
    let count = |endpoint, status| {
        stub.metrics.count(
            "cxone_requests",
            &[("endpoint", endpoint), ("status", status)],
        )
    };
    assert_eq!(count("/.well-known/openid-configuration", "200"), 1);
    assert_eq!(count("/auth/token", "200"), 1);
    assert_eq!(count("/.well-known/cxone-configuration", "200"), 1);
    assert_eq!(count("/contacts/{id}", "200"), 1);
    assert_eq!(count("/contacts/{id}", "404"), 1);
    let text = stub.metrics.render();
    assert!(!text.contains(CONTACT_ID), "ids never become label values");
}

#[tokio::test]
async fn settings_read_from_the_stubs_variables_reach_the_stub() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let vars = stub.env_vars();
    let settings = handover_doctor::cxone::CxoneSettings::from_env_map(|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    assert!(settings.is_configured());
    let client = stub.client_with(settings);
    assert!(client.get_contact(CONTACT_ID).await.unwrap().is_some());
}

// ---- the audit's findings ----

/// A token response whose access token is `name` (to tell tokens apart in requests).
fn named_token(stub: &CxoneStub, name: &str, expires_in: u64) -> Value {
    let mut t = stub.token_response(expires_in);
    t["access_token"] = json!(name);
    t
}

fn bearers(reqs: &[wiremock::Request]) -> Vec<String> {
    reqs.iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .map(|v| {
                    v.to_str()
                        .unwrap()
                        .trim_start_matches("Bearer ")
                        .to_string()
                })
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn api_discovery_uses_the_tokens_issuer_and_fails_without_it() {
    // The configured issuer serves OpenID discovery but no API discovery: only the token's
    // `iss` does. A client that asked the configured issuer would get a 404 here.
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    assert!(client.get_contact(CONTACT_ID).await.unwrap().is_some());
    assert_eq!(
        stub.requests_to_path("/.well-known/cxone-configuration")
            .await
            .len(),
        1
    );
    // A token without `iss` falls back to the configured issuer, which has no API
    // discovery: the failure is named, not hidden.
    let bare = CxoneStub::start_bare().await;
    bare.mount_openid_configuration().await;
    let mut token = bare.token_response(3600);
    token["id_token"] = json!(unsigned_jwt(&json!({"tenantId": TENANT_ID})));
    token["access_token"] = json!(unsigned_jwt(&json!({"tenantId": TENANT_ID})));
    bare.mount_token(token).await;
    bare.mount_cxone_configuration().await;
    let err = bare.client().check().await.unwrap_err();
    assert!(matches!(err, CxoneError::AuthFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn a_failed_early_renewal_keeps_the_still_valid_token_and_tries_again_later() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_cxone_configuration().await;
    stub.mount_story().await;
    // The first grant: a two-second token, renewed at half-life. Then the token endpoint
    // answers 503 for one renewal attempt (1 + 4 retries), then grants again.
    let grant = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(grant(named_token(&stub, "token-A", 2)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stub.server)
        .await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(5)
        .with_priority(2)
        .mount(&stub.server)
        .await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(grant(named_token(&stub, "token-B", 3600)))
        .with_priority(3)
        .mount(&stub.server)
        .await;
    let client = stub.client();
    client.get_contact(CONTACT_ID).await.unwrap();
    // Waiting for the clock, not for work: the token has to age past its renewal point
    // (1 s) but not past its expiry (2 s).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls = (0..10).map(|_| client.get_contact(CONTACT_ID));
    for r in futures_util::future::join_all(calls).await {
        assert!(matches!(r, Ok(Some(_))), "{r:?}");
    }
    // One renewal attempt (five requests with its retries) for ten callers, and every
    // call went out with the old token.
    assert_eq!(stub.token_requests().await, 6);
    let api = stub
        .requests_to_path(&stub.api_path(&format!("contacts/{CONTACT_ID}")))
        .await;
    assert!(
        bearers(&api).iter().all(|b| b == "token-A"),
        "{:?}",
        bearers(&api)
    );
    // After the pause (a tenth of the lifetime), one caller renews.
    tokio::time::sleep(Duration::from_millis(250)).await;
    client.get_contact(CONTACT_ID).await.unwrap();
    assert_eq!(stub.token_requests().await, 7);
    let api = stub
        .requests_to_path(&stub.api_path(&format!("contacts/{CONTACT_ID}")))
        .await;
    assert_eq!(bearers(&api).last().map(String::as_str), Some("token-B"));
}

#[tokio::test]
async fn a_failed_renewal_after_the_token_expired_is_an_error() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_cxone_configuration().await;
    stub.mount_story().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(named_token(&stub, "token-A", 1)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stub.server)
        .await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&stub.server)
        .await;
    let client = stub.client();
    client.get_contact(CONTACT_ID).await.unwrap();
    // Waiting for the clock: past the one-second token's expiry.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = client.get_contact(CONTACT_ID).await.unwrap_err();
    assert!(matches!(err, CxoneError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn twenty_callers_past_the_renewal_point_share_one_renewal() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_cxone_configuration().await;
    stub.mount_story().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(named_token(&stub, "token-A", 2))
                .set_delay(Duration::from_millis(200)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stub.server)
        .await;
    // A slow renewal makes every caller arrive while it runs.
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(named_token(&stub, "token-B", 3600))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&stub.server)
        .await;
    let client = stub.client();
    client.get_contact(CONTACT_ID).await.unwrap();
    // Waiting for the clock: past the renewal point.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls = (0..20).map(|_| client.get_contact(CONTACT_ID));
    for r in futures_util::future::join_all(calls).await {
        assert!(matches!(r, Ok(Some(_))), "{r:?}");
    }
    assert_eq!(stub.token_requests().await, 2);
    let api = stub
        .requests_to_path(&stub.api_path(&format!("contacts/{CONTACT_ID}")))
        .await;
    assert_eq!(
        bearers(&api).iter().filter(|b| *b == "token-B").count(),
        20,
        "the renewed token serves every waiting caller"
    );
}

#[tokio::test]
async fn twenty_concurrent_401s_cost_one_re_authentication() {
    let stub = CxoneStub::start_bare().await;
    stub.mount_openid_configuration().await;
    stub.mount_cxone_configuration().await;
    stub.mount_story().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(named_token(&stub, "token-A", 3600)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stub.server)
        .await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(named_token(&stub, "token-B", 3600))
                .set_delay(Duration::from_millis(200)),
        )
        .mount(&stub.server)
        .await;
    // CXone revoked token A: every read with it answers 401 (slowly, so they overlap).
    wiremock::Mock::given(method("GET"))
        .and(path(stub.api_path(&format!("contacts/{CONTACT_ID}"))))
        .and(header("authorization", "Bearer token-A"))
        .respond_with(ResponseTemplate::new(401).set_delay(Duration::from_millis(100)))
        .with_priority(1)
        .mount(&stub.server)
        .await;
    let client = stub.client();
    client.check().await.unwrap();
    let calls = (0..20).map(|_| client.get_contact(CONTACT_ID));
    for r in futures_util::future::join_all(calls).await {
        assert!(matches!(r, Ok(Some(_))), "{r:?}");
    }
    assert_eq!(stub.token_requests().await, 2, "one re-authentication");
    let api = stub
        .requests_to_path(&stub.api_path(&format!("contacts/{CONTACT_ID}")))
        .await;
    let b = bearers(&api);
    assert_eq!(b.iter().filter(|t| *t == "token-A").count(), 20);
    assert_eq!(b.iter().filter(|t| *t == "token-B").count(), 20);
}

#[tokio::test]
async fn bodies_with_both_old_and_new_names_and_null_lists_are_read() {
    let stub = CxoneStub::start().await;
    let mut contact = stub.fixture("contact_completed");
    // A version in transition sends both spellings.
    contact["contactId"]["contactStart"] = json!("2026-05-12T14:00:00.000Z");
    contact["contactId"]["fromAddr"] = json!("4155550100");
    contact["contactId"]["mediaType"] = json!(4);
    stub.contact(CONTACT_ID, 200, contact).await;
    let mut hours = stub.fixture("hours_detail");
    hours["holidays"] = Value::Null;
    stub.respond(
        &format!("hours-of-operation/{HOURS_PROFILE_ID}"),
        200,
        hours,
    )
    .await;
    stub.hierarchy(
        CONTACT_ID,
        200,
        json!({"masterContactId": 745512890101u64, "childContacts": null}),
    )
    .await;
    let client = stub.client();
    let c = client.get_contact(CONTACT_ID).await.unwrap().unwrap();
    let want = stub.fixture("contact_completed")["contactId"]["contactStartDate"].clone();
    assert_eq!(
        c.contact_start_date
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        want.as_str().map(str::to_string),
        "the current name wins"
    );
    let h = client
        .hours_profile(HOURS_PROFILE_ID)
        .await
        .unwrap()
        .unwrap();
    assert!(h.holidays.is_empty());
    assert!(!h.days.is_empty());
    let hier = client.hierarchy(CONTACT_ID).await.unwrap().unwrap();
    assert!(hier.child_contacts.is_empty());
}

#[tokio::test]
async fn a_forbidden_active_contacts_read_shows_as_a_forbidden_problem() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    stub.active(CONTACT_ID, 403, json!({"error": "Forbidden"}))
        .await;
    // A live contact: only /contacts/active can say whether it still is.
    stub.contact(CONTACT_ID, 200, stub.fixture("contact_active"))
        .await;
    let client = stub.client();
    let f = facts(gather(Some(&client), Some(&event(CONTACT_ID, None)), None).await);
    let Lookup::Failed(p) = &f.still_active else {
        panic!("expected a failed look-up, got {:?}", f.still_active);
    };
    assert_eq!(p.kind, ProblemKind::Forbidden);
    assert!(p.what.contains("/contacts/active"), "{}", p.what);
    assert_eq!(f.problems().len(), 1);
}

#[tokio::test]
async fn a_400_on_a_read_is_not_retried_and_not_called_an_outage() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let rel = format!("contacts/{CONTACT_ID}/statehistory");
    stub.respond(&rel, 400, json!({"error": "InvalidParameter"}))
        .await;
    let client = stub.client();
    let f = facts(gather(Some(&client), Some(&event(CONTACT_ID, None)), None).await);
    let Lookup::Failed(p) = &f.states else {
        panic!("expected a failed look-up, got {:?}", f.states);
    };
    assert_eq!(p.kind, ProblemKind::Rejected);
    assert_eq!(stub.api_requests(&rel).await, 1, "a 400 is an answer");
    // The report says so rather than claiming retries.
    let ev = handover_doctor::diagnosis::evidence::Evidence {
        event: Some(event(CONTACT_ID, None)),
        contact_id: Some(CONTACT_ID.into()),
        cxone: CxoneEvidence::Checked(Box::new(f)),
        required_context_keys: Vec::new(),
        now: Utc::now(),
    };
    let d = handover_doctor::diagnosis::diagnose(&ev);
    let hd503 = d
        .findings
        .iter()
        .find(|f| f.code == handover_doctor::diagnosis::Code::Hd503)
        .expect("HD503");
    assert!(hd503.message.contains("not retried"), "{}", hd503.message);
    assert!(
        !hd503.message.contains("through every retry"),
        "{}",
        hd503.message
    );
    assert!(hd503.message.contains("400"), "{}", hd503.message);
}

#[tokio::test]
async fn the_retry_time_bound_holds_against_a_slow_failing_server() {
    let stub = CxoneStub::start().await;
    let rel = format!("skills/{SKILL_ID}");
    // Each attempt takes 0.9 s and fails: a bound that only checked the waits would start
    // a second attempt at 0.9 s and end near 1.8 s.
    stub.respond_with(
        &rel,
        ResponseTemplate::new(503).set_delay(Duration::from_millis(900)),
    )
    .await;
    let mut settings = stub.settings();
    settings.retry_budget = Duration::from_millis(1500);
    let client = stub.client_with(settings);
    client.check().await.unwrap();
    let started = Instant::now();
    let err = client.skill(SKILL_ID).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, CxoneError::Unavailable { .. }), "{err:?}");
    assert!(took <= Duration::from_millis(1700), "{took:?}");
}

#[tokio::test]
async fn a_burst_over_several_skills_reads_each_hours_profile_once() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    // Skills no profile lists (and the story's, which one does).
    let skills = ["4412877", "4413001", "4413002", "4413003", "4413004"];
    for id in &skills[1..] {
        stub.skill(
            id,
            200,
            json!({"skillId": id, "skillName": format!("Skill_{id}")}),
        )
        .await;
    }
    let client = stub.client();
    let burst = skills
        .iter()
        .flat_map(|id| (0..3).map(move |_| *id))
        .map(|id| {
            let ev = event(CONTACT_ID, Some(id));
            let client = client.clone();
            async move { facts(gather(Some(&client), Some(&ev), None).await) }
        });
    let all = futures_util::future::join_all(burst).await;
    for (f, id) in all.iter().zip(skills.iter().flat_map(|id| [*id; 3])) {
        match id {
            "4412877" => assert!(f.hours.found().is_some(), "{id}"),
            _ => assert_eq!(f.hours, Lookup::NotFound, "{id}"),
        }
    }
    assert_eq!(stub.api_requests("hours-of-operation").await, 1);
    assert_eq!(
        stub.api_requests(&format!("hours-of-operation/{HOURS_PROFILE_ID}"))
            .await,
        1
    );
    assert_eq!(
        stub.api_requests(&format!("hours-of-operation/{OTHER_HOURS_PROFILE_ID}"))
            .await,
        1
    );
}

#[tokio::test]
async fn without_a_target_skill_the_queued_skill_is_checked_and_a_never_queued_contact_none() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    // The story contact queued on 4412877: that skill is checked.
    let f = facts(gather(Some(&client), Some(&event(CONTACT_ID, None)), None).await);
    assert_eq!(f.skill.found().unwrap().skill_id.as_deref(), Some(SKILL_ID));
    // A contact that stayed in pre-queue on the bot's skill: no skill is checked.
    let prequeue = "745512890402";
    let mut c = stub.fixture("contact_completed");
    c["contactId"]["contactId"] = json!(745512890402u64);
    c["contactId"]["skillId"] = json!(4412801);
    c["contactId"]["skillName"] = json!("Cognigy_Bot_IVR");
    c["contactId"]["inQueueSeconds"] = json!(0);
    c["contactId"]["abandoned"] = json!(false);
    stub.contact(prequeue, 200, c).await;
    stub.state_history(
        prequeue,
        200,
        json!({"contactStateHistory": [
            {"stateIndex": 1, "contactStateName": "PreQueue", "startDate": "2026-05-12T14:21:44Z",
             "skillId": 4412801, "skillName": "Cognigy_Bot_IVR"},
            {"stateIndex": 2, "contactStateName": "Released", "startDate": "2026-05-12T14:27:44Z",
             "skillId": 4412801, "skillName": "Cognigy_Bot_IVR"}
        ]}),
    )
    .await;
    stub.skill(
        "4412801",
        200,
        json!({"skillId": 4412801, "skillName": "Cognigy_Bot_IVR"}),
    )
    .await;
    for e in [Some(event(prequeue, None)), None] {
        let f = facts(gather(Some(&client), e.as_ref(), Some(prequeue)).await);
        assert!(f.contact.found().is_some());
        assert_eq!(f.skill, Lookup::NotLooked);
        assert_eq!(f.skill_agents, Lookup::NotLooked);
        assert_eq!(f.hours, Lookup::NotLooked);
    }
    assert_eq!(stub.api_requests("skills/4412801").await, 0);
}

#[tokio::test]
async fn the_contact_named_in_the_signal_result_is_read_when_the_event_has_no_contact_id() {
    let stub = CxoneStub::start().await;
    stub.mount_story().await;
    let client = stub.client();
    let ev = HandoverEvent::parse(
        json!({
            "conversationId": "conv-2",
            "handover": {"signalResult": format!("Signaled CXone with: 'Escalate' for contactId: {CONTACT_ID}")}
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let f = facts(gather(Some(&client), Some(&ev), None).await);
    assert!(f.contact.found().is_some());
    assert_eq!(
        stub.api_requests(&format!("contacts/{CONTACT_ID}")).await,
        1
    );
}

/// Answers every CXone request from the recorded shapes (any contact id) and notes when
/// each arrived, so a test can count the requests of any one-second window.
struct Recording {
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
    issuer_path: String,
    openid: Value,
    token: Value,
    cxone_configuration: Value,
    story: Vec<(&'static str, Value)>,
}

impl wiremock::Respond for Recording {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        self.arrivals.lock().unwrap().push(Instant::now());
        let p = req.url.path();
        let json = |v: &Value| ResponseTemplate::new(200).set_body_json(v);
        if p == format!("{}/.well-known/openid-configuration", self.issuer_path) {
            return json(&self.openid);
        }
        if p == "/auth/token" {
            return json(&self.token);
        }
        if p == "/.well-known/cxone-configuration" {
            return json(&self.cxone_configuration);
        }
        let Some(rest) = p.strip_prefix(&format!("/incontactapi/services/{API_VERSION}/")) else {
            return ResponseTemplate::new(404);
        };
        let parts: Vec<&str> = rest.split('/').collect();
        // `contacts/{id}/...` → the story's contact, renamed to the asked id.
        let (key, id) = match parts.as_slice() {
            ["contacts", "active"] => return ResponseTemplate::new(204),
            ["contacts", id] => ("contact", Some(*id)),
            ["contacts", id, tail] => (*tail, Some(*id)),
            _ => (rest, None),
        };
        match self.story.iter().find(|(k, _)| *k == key) {
            Some((_, body)) => {
                let text = body.to_string();
                let text = match id {
                    Some(id) => text.replace(CONTACT_ID, id),
                    None => text,
                };
                ResponseTemplate::new(200).set_body_raw(text, "application/json")
            }
            None => ResponseTemplate::new(404),
        }
    }
}

/// The most arrivals in any window of one second starting at an arrival.
fn most_in_one_second(arrivals: &[Instant]) -> usize {
    arrivals
        .iter()
        .map(|t| {
            arrivals
                .iter()
                .filter(|u| **u >= *t && **u < *t + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn with_cxone_max_rps_5_a_burst_of_100_diagnoses_never_sends_more_than_5_requests_a_second() {
    use handover_doctor::diagnosis::{Code, diagnose, evidence::Evidence};

    let stub = CxoneStub::start_bare().await;
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recording = Recording {
        arrivals: arrivals.clone(),
        issuer_path: ISSUER_PATH.to_string(),
        openid: stub.fixture("openid_configuration"),
        token: stub.token_response(3600),
        cxone_configuration: stub.fixture("cxone_configuration"),
        story: vec![
            ("contact", stub.fixture("contact_completed")),
            ("statehistory", stub.fixture("statehistory")),
            ("hierarchy", stub.fixture("hierarchy")),
            ("skills", stub.fixture("skills_list")),
            ("skills/4412877", stub.fixture("skill")),
            ("skills/4412877/agents", stub.fixture("skill_agents")),
            ("skills/4412877/activity", stub.fixture("skill_activity")),
            ("hours-of-operation", stub.fixture("hours_list")),
            (
                "hours-of-operation/3301",
                stub.fixture("hours_detail_other"),
            ),
            ("hours-of-operation/3302", stub.fixture("hours_detail")),
            (
                "contact-state-descriptions",
                stub.fixture("contact_state_descriptions"),
            ),
        ],
    };
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(recording)
        .mount(&stub.server)
        .await;
    let client = stub.client_with(handover_doctor::cxone::CxoneSettings {
        max_rps: 5,
        ..stub.settings()
    });

    let started = Instant::now();
    let diagnoses = futures_util::future::join_all((0..100u64).map(|i| {
        let client = client.clone();
        async move {
            let id = (745_512_890_123u64 + 1_000 + i).to_string();
            let event = event(&id, Some(SKILL_ID));
            let cxone = gather(Some(&client), Some(&event), None).await;
            diagnose(&Evidence {
                contact_id: Some(id),
                event: Some(event),
                cxone,
                required_context_keys: Vec::new(),
                now: Utc.with_ymd_and_hms(2026, 5, 12, 14, 35, 0).unwrap(),
            })
        }
    }))
    .await;
    let took = started.elapsed();

    let arrivals = arrivals.lock().unwrap().clone();
    let most = most_in_one_second(&arrivals);
    println!(
        "{} CXone requests for 100 diagnoses in {:.1} s; at most {most} in any one second",
        arrivals.len(),
        took.as_secs_f64()
    );
    assert!(most <= 5, "{most} requests within one second");
    assert_eq!(diagnoses.len(), 100);
    for d in &diagnoses {
        assert!(d.cxone.checked, "{:?}", d.cxone);
        assert!(
            !d.findings.iter().any(|f| f.code == Code::Hd503),
            "HD503 for the limit: {:?}",
            d.findings
        );
        // One story, one verdict: the limit changes when, never what.
        assert_eq!(
            d.verdict.code, diagnoses[0].verdict.code,
            "{:?}",
            d.findings
        );
    }
}
