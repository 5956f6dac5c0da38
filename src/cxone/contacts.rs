//! Contact reads: details, state history, hierarchy, "still live?", and the completed
//! contacts search that `scan` pages through.
//!
//! States are read by id: `contactStateId` (and a record's `stateId`) are named through
//! `/contact-state-descriptions`, read once per process, because state names differ
//! between versions and tenants while ids do not; the name a body carries is the fallback.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::client::{CxoneClient, Target};
use super::error::CxoneError;
use super::paging::Pager;
use super::shape::{self, absent_on_404, decode};
use super::types::{Contact, ContactState, Hierarchy};

/// The shortest time between two reads of `/contact-state-descriptions` when a state id
/// is not in it: often enough to learn a new state, rarely enough to cost nothing.
const STATE_NAMES_REREAD: Duration = Duration::from_secs(60);

/// Media type id of a phone call (cxone.md section 3.1).
pub const MEDIA_TYPE_PHONE_CALL: u32 = 4;

/// Page size for the completed-contacts search (CXone's common maximum is 1000).
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// Reads a contact record out of any of the shapes `GET /contacts/{id}` has had.
pub(crate) fn contact_from_body(body: Value) -> Result<Option<Contact>, serde_json::Error> {
    let business_unit = body.get("businessUnitId").cloned();
    let Some(record) = shape::record(
        body,
        &[
            "contactId",
            "contacts",
            "completedContacts",
            "activeContacts",
        ],
    ) else {
        return Ok(None);
    };
    let mut contact: Contact = serde_json::from_value(record)?;
    if contact.business_unit_id.is_none()
        && let Some(bu) = business_unit
    {
        contact.business_unit_id =
            serde_json::from_value::<Contact>(serde_json::json!({ "businessUnitId": bu }))?
                .business_unit_id;
    }
    Ok(Some(contact))
}

/// Oldest first: by `stateIndex`, then `startDate`; entries without either go last.
pub(crate) fn sort_states(states: &mut [ContactState]) {
    states.sort_by(|a, b| {
        let ia = a.state_index.unwrap_or(f64::MAX);
        let ib = b.state_index.unwrap_or(f64::MAX);
        ia.total_cmp(&ib)
            .then_with(|| match (a.start_date, b.start_date) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
}

/// What the completed-contacts search asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedContactsQuery {
    /// `startDate`, inclusive.
    pub start: DateTime<Utc>,
    /// `endDate`.
    pub end: DateTime<Utc>,
    /// `mediaTypeId`, e.g. [`MEDIA_TYPE_PHONE_CALL`].
    pub media_type_id: Option<u32>,
    /// `skillId`.
    pub skill_id: Option<String>,
    /// `top`: contacts per page.
    pub page_size: usize,
}

impl CompletedContactsQuery {
    /// Every contact completed between `start` and `end`, [`DEFAULT_PAGE_SIZE`] per page.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        CompletedContactsQuery {
            start,
            end,
            media_type_id: None,
            skill_id: None,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// The completed-contacts search, one page per [`CompletedContactsPages::next_page`].
pub struct CompletedContactsPages {
    pager: Pager,
}

impl std::fmt::Debug for CompletedContactsPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletedContactsPages")
            .finish_non_exhaustive()
    }
}

impl CompletedContactsPages {
    /// The next page of contacts; `Ok(None)` when there are no more.
    ///
    /// # Errors
    /// [`CxoneError`] from the request (after retries); a page that is not a contact
    /// list is [`CxoneError::Decode`].
    pub async fn next_page(&mut self) -> Result<Option<Vec<Contact>>, CxoneError> {
        let Some(items) = self.pager.next_page().await? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|v| decode("GET /contacts/completed", v))
            .collect::<Result<Vec<Contact>, _>>()
            .map(Some)
    }
}

/// `contactStateId` → description, from a `/contact-state-descriptions` body (any
/// version: keys already camelCase, the list under any key, in a `resultSet` or bare).
pub(crate) fn state_names_from_body(body: &Value) -> HashMap<String, String> {
    let mut items = shape::list(
        body,
        &["contactStateDescriptions", "contactStates", "states"],
    );
    if items.is_empty()
        && let Some(first) = body
            .as_object()
            .and_then(|o| o.values().find_map(Value::as_array))
    {
        items = first.clone();
    }
    items
        .iter()
        .filter_map(|item| {
            let id = match item.get("contactStateId")? {
                Value::Number(n) => n.to_string(),
                Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
                _ => return None,
            };
            let name = [
                "contactStateDescription",
                "contactStateName",
                "stateName",
                "description",
            ]
            .iter()
            .find_map(|k| item.get(*k).and_then(Value::as_str))
            .map(str::trim)
            .filter(|n| !n.is_empty())?;
            Some((id, name.to_string()))
        })
        .collect()
}

impl CxoneClient {
    /// The state names for `ids`: what is known, after reading
    /// `/contact-state-descriptions` the first time, or again when one of `ids` is unknown
    /// (at most once per [`STATE_NAMES_REREAD`]). A failed read is logged and leaves the
    /// names in the bodies to speak.
    async fn state_names(&self, ids: &[&str]) -> Arc<HashMap<String, String>> {
        let cache = &self.inner.caches.state_names;
        let current = || {
            cache
                .names
                .lock()
                .expect("state names lock poisoned")
                .clone()
        };
        let knows_all = |m: &HashMap<String, String>| ids.iter().all(|id| m.contains_key(*id));
        let names = current();
        if ids.is_empty() || knows_all(&names) {
            return names;
        }
        let mut last_read = cache.last_read.lock().await;
        let names = current();
        if knows_all(&names) || last_read.is_some_and(|t| t.elapsed() < STATE_NAMES_REREAD) {
            return names;
        }
        *last_read = Some(tokio::time::Instant::now());
        let read = absent_on_404(
            self.get_json(
                "/contact-state-descriptions",
                &Target::Path(&["contact-state-descriptions"]),
                &[],
            )
            .await,
        );
        match read {
            Ok(Some(body)) => {
                let fresh = state_names_from_body(&body);
                if fresh.is_empty() {
                    return names;
                }
                let fresh = Arc::new(fresh);
                *cache.names.lock().expect("state names lock poisoned") = fresh.clone();
                fresh
            }
            Ok(None) => names,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the contact state names; reading states by the names CXone sent");
                names
            }
        }
    }

    /// Names each state by its id where CXone describes the id.
    async fn name_states(&self, states: &mut [ContactState]) {
        let ids: Vec<&str> = states
            .iter()
            .filter_map(|s| s.contact_state_id.as_deref())
            .collect();
        let names = self.state_names(&ids).await;
        for s in states.iter_mut() {
            if let Some(name) = s.contact_state_id.as_deref().and_then(|id| names.get(id)) {
                s.contact_state_name = Some(name.clone());
            }
        }
    }

    /// `GET /contacts/{id}`: the contact, active or completed. `Ok(None)` on 404 or 204.
    ///
    /// # Errors
    /// [`CxoneError`]: forbidden, unavailable after retries, refused credentials, or an
    /// unreadable body.
    pub async fn get_contact(&self, contact_id: &str) -> Result<Option<Contact>, CxoneError> {
        let what = format!("GET /contacts/{contact_id}");
        let body = absent_on_404(
            self.get_json(
                "/contacts/{id}",
                &Target::Path(&["contacts", contact_id]),
                &[],
            )
            .await,
        )?;
        let Some(body) = body else { return Ok(None) };
        let mut contact = contact_from_body(body).map_err(|e| CxoneError::Decode {
            what,
            detail: e.to_string(),
        })?;
        if let Some(c) = contact.as_mut()
            && let Some(id) = c.state_id.clone()
            && let Some(name) = self.state_names(&[id.as_str()]).await.get(&id)
        {
            c.state_name = Some(name.clone());
        }
        Ok(contact)
    }

    /// The contact's state history, oldest first. Tries `/statehistory` (what working
    /// integrations use) and falls back to `/state-history` (the spec's spelling) on 404.
    /// `Ok(None)` when both answer 404, or on 204.
    ///
    /// # Errors
    /// As [`CxoneClient::get_contact`].
    pub async fn state_history(
        &self,
        contact_id: &str,
    ) -> Result<Option<Vec<ContactState>>, CxoneError> {
        const PLAIN: (&str, &str) = ("statehistory", "/contacts/{id}/statehistory");
        const DASHED: (&str, &str) = ("state-history", "/contacts/{id}/state-history");
        let dashed_first = self.inner.dashed_state_history.load(Ordering::Relaxed);
        let (first, second) = if dashed_first {
            (DASHED, PLAIN)
        } else {
            (PLAIN, DASHED)
        };
        let body = match self
            .get_json(
                first.1,
                &Target::Path(&["contacts", contact_id, first.0]),
                &[],
            )
            .await
        {
            Err(CxoneError::NotFound { .. }) => {
                let r = absent_on_404(
                    self.get_json(
                        second.1,
                        &Target::Path(&["contacts", contact_id, second.0]),
                        &[],
                    )
                    .await,
                )?;
                if r.is_some() {
                    self.inner
                        .dashed_state_history
                        .store(second == DASHED, Ordering::Relaxed);
                }
                r
            }
            other => other?,
        };
        let Some(body) = body else {
            return Ok(None);
        };
        let what = format!("GET /contacts/{contact_id}/statehistory");
        let mut states = shape::list(&body, &["contactStateHistory", "contactStates"])
            .into_iter()
            .map(|v| decode(&what, v))
            .collect::<Result<Vec<ContactState>, _>>()?;
        self.name_states(&mut states).await;
        sort_states(&mut states);
        Ok(Some(states))
    }

    /// `GET /contacts/{id}/hierarchy`: master and child contacts. `Ok(None)` on 404/204.
    ///
    /// # Errors
    /// As [`CxoneClient::get_contact`].
    pub async fn hierarchy(&self, contact_id: &str) -> Result<Option<Hierarchy>, CxoneError> {
        let what = format!("GET /contacts/{contact_id}/hierarchy");
        let body = absent_on_404(
            self.get_json(
                "/contacts/{id}/hierarchy",
                &Target::Path(&["contacts", contact_id, "hierarchy"]),
                &[],
            )
            .await,
        )?;
        match body.and_then(|b| shape::record(b, &["hierarchy", "contactHierarchy"])) {
            None => Ok(None),
            Some(record) => decode(&what, record).map(Some),
        }
    }

    /// Whether `GET /contacts/active?contactId=` still lists the contact (204, 404 or an
    /// empty list: no).
    ///
    /// # Errors
    /// As [`CxoneClient::get_contact`].
    pub async fn is_active(&self, contact_id: &str) -> Result<bool, CxoneError> {
        let body = absent_on_404(
            self.get_json(
                "/contacts/active",
                &Target::Path(&["contacts", "active"]),
                &[("contactId", contact_id.to_string())],
            )
            .await,
        )?;
        let Some(body) = body else {
            return Ok(false);
        };
        let what = "GET /contacts/active";
        for item in shape::list(&body, &["activeContacts", "contacts", "contactStates"]) {
            let c: Contact = decode(what, item)?;
            // Old versions ignore the filter and list everything: only our id counts.
            if c.contact_id.as_deref() == Some(contact_id) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The completed-contacts search (`GET /contacts/completed`), one page at a time.
    pub fn completed_contacts_pages(
        &self,
        query: CompletedContactsQuery,
    ) -> CompletedContactsPages {
        let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut q: Vec<(&'static str, String)> =
            vec![("startDate", ts(query.start)), ("endDate", ts(query.end))];
        if let Some(m) = query.media_type_id {
            q.push(("mediaTypeId", m.to_string()));
        }
        if let Some(s) = &query.skill_id {
            q.push(("skillId", s.clone()));
        }
        CompletedContactsPages {
            pager: Pager::new(
                self,
                "/contacts/completed",
                &["contacts", "completed"],
                q,
                &["completedContacts", "contacts"],
                query.page_size,
            ),
        }
    }

    /// Every contact completed between `start` and `end` (optionally of one media type
    /// and skill), all pages read.
    ///
    /// # Errors
    /// As [`CompletedContactsPages::next_page`]; a 404 is [`CxoneError::NotFound`].
    pub async fn completed_contacts(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        media_type_id: Option<u32>,
        skill_id: Option<&str>,
    ) -> Result<Vec<Contact>, CxoneError> {
        let mut pages = self.completed_contacts_pages(CompletedContactsQuery {
            media_type_id,
            skill_id: skill_id.map(str::to_string),
            ..CompletedContactsQuery::new(start, end)
        });
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(name: &str) -> Value {
        let path = format!(
            "{}/fixtures/cxone/shapes/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn the_current_contact_shape_is_unwrapped_from_its_contact_id_object() {
        let c = contact_from_body(shape("contact_completed"))
            .unwrap()
            .unwrap();
        assert_eq!(c.contact_id.as_deref(), Some("745512890123"));
        assert_eq!(c.master_contact_id.as_deref(), Some("745512890101"));
        assert_eq!(c.skill_id.as_deref(), Some("4412877"));
        assert_eq!(c.abandoned, Some(true));
        assert_eq!(c.business_unit_id.as_deref(), Some("4601234"));
        assert!(c.contact_start_date.is_some());
    }

    #[test]
    fn the_v1x_result_set_shape_with_old_field_names_reads_the_same() {
        let c = contact_from_body(shape("contact_v1x_result_set"))
            .unwrap()
            .unwrap();
        assert_eq!(c.contact_id.as_deref(), Some("745512890123"));
        assert_eq!(c.media_type_id.as_deref(), Some("4"));
        assert_eq!(c.from_address.as_deref(), Some("4155550123"));
        assert!(c.contact_start_date.is_some());
        assert_eq!(c.acw_seconds, Some(0.0));
    }

    #[test]
    fn a_flat_contact_and_an_empty_list_are_read_too() {
        let c = contact_from_body(json!({"contactId": 5, "skillId": "7"}))
            .unwrap()
            .unwrap();
        assert_eq!(c.contact_id.as_deref(), Some("5"));
        assert_eq!(contact_from_body(json!({"resultSet": []})).unwrap(), None);
    }

    #[test]
    fn state_names_are_read_from_every_shape_of_the_descriptions() {
        let pascal = crate::cxone::shape::camel_keys(json!({"contactStateDescriptions": [
            {"ContactStateId": 3, "ContactStateDescription": "InQueue"},
            {"ContactStateId": "18", "ContactStateDescription": "EndContact"}
        ]}));
        let names = state_names_from_body(&pascal);
        assert_eq!(names.get("3").map(String::as_str), Some("InQueue"));
        assert_eq!(names.get("18").map(String::as_str), Some("EndContact"));
        let bare = json!([{"contactStateId": 24, "contactStateName": "Interrupted"}]);
        assert_eq!(
            state_names_from_body(&bare).get("24").map(String::as_str),
            Some("Interrupted")
        );
    }

    #[test]
    fn states_sort_by_index_then_time() {
        let mut states: Vec<ContactState> = serde_json::from_value(json!([
            {"stateIndex": 3, "startDate": "2026-05-12T14:27:01Z"},
            {"startDate": "2026-05-12T14:20:00Z"},
            {"stateIndex": "1", "startDate": "2026-05-12T14:21:44Z"},
            {"stateIndex": 2, "startDate": "2026-05-12T14:25:45Z"}
        ]))
        .unwrap();
        sort_states(&mut states);
        let idx: Vec<Option<f64>> = states.iter().map(|s| s.state_index).collect();
        assert_eq!(idx, vec![Some(1.0), Some(2.0), Some(3.0), None]);
    }
}
