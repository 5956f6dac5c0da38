//! Skill-level reads: the skill, its agents, its live activity and the hours-of-operation
//! profile that holds it. All of them are cached for `CXONE_CACHE_TTL_SECS` with one fetch
//! per key in flight, because a burst of failures usually targets one skill.

use std::sync::Arc;

use serde_json::Value;

use super::client::{CxoneClient, Target};
use super::error::CxoneError;
use super::paging::Pager;
use super::shape::{self, absent_on_404, decode};
use super::types::{AgentSkillAssignment, HoursOfOperation, Skill, SkillActivity};

/// Page size for list reads (skills, agents, profiles).
const LIST_PAGE_SIZE: usize = 1000;

/// Hours profiles read at once when looking for a skill's profile.
const HOURS_CONCURRENCY: usize = 4;

fn holds_skill(profile: &HoursOfOperation, skill_id: &str) -> bool {
    profile
        .skills
        .iter()
        .any(|m| m.skill_id.as_deref() == Some(skill_id))
}

impl CxoneClient {
    /// `GET /skills/{id}`. `Ok(None)` on 404/204.
    ///
    /// # Errors
    /// [`CxoneError`]: forbidden, unavailable after retries, refused credentials, or an
    /// unreadable body.
    pub async fn skill(&self, skill_id: &str) -> Result<Option<Skill>, CxoneError> {
        let key = skill_id.to_string();
        self.inner
            .caches
            .skill
            .get_or_fetch(key, || async {
                let what = format!("GET /skills/{skill_id}");
                let body = absent_on_404(
                    self.get_json("/skills/{id}", &Target::Path(&["skills", skill_id]), &[])
                        .await,
                )?;
                match body.and_then(|b| shape::record(b, &["skill", "skills"])) {
                    None => Ok(None),
                    Some(v) => decode(&what, v).map(Some),
                }
            })
            .await
    }

    /// Every skill of the business unit (`GET /skills`, all pages).
    ///
    /// # Errors
    /// As [`CxoneClient::skill`].
    pub async fn skills(&self) -> Result<Arc<Vec<Skill>>, CxoneError> {
        self.inner
            .caches
            .skills_list
            .get_or_fetch((), || async {
                let items = match Pager::new(
                    self,
                    "/skills",
                    &["skills"],
                    Vec::new(),
                    &["skills"],
                    LIST_PAGE_SIZE,
                )
                .collect_all()
                .await
                {
                    Err(CxoneError::NotFound { .. }) => Vec::new(),
                    other => other?,
                };
                items
                    .into_iter()
                    .map(|v| decode("GET /skills", v))
                    .collect::<Result<Vec<Skill>, _>>()
                    .map(Arc::new)
            })
            .await
    }

    /// The skill whose `skillName` matches `name`, ignoring case and surrounding spaces.
    ///
    /// # Errors
    /// As [`CxoneClient::skill`].
    pub async fn skill_by_name(&self, name: &str) -> Result<Option<Skill>, CxoneError> {
        let wanted = name.trim();
        let skills = self.skills().await?;
        Ok(skills
            .iter()
            .find(|s| {
                s.skill_name
                    .as_deref()
                    .is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted))
            })
            .cloned())
    }

    /// `GET /skills/{id}/agents` (`agentSkillAssignments`, all pages). 204 is an empty
    /// list (no agent has the skill); 404 is `Ok(None)` (no such skill).
    ///
    /// # Errors
    /// As [`CxoneClient::skill`].
    pub async fn skill_agents(
        &self,
        skill_id: &str,
    ) -> Result<Option<Vec<AgentSkillAssignment>>, CxoneError> {
        self.inner
            .caches
            .agents
            .get_or_fetch(skill_id.to_string(), || async {
                let what = format!("GET /skills/{skill_id}/agents");
                let items = match Pager::new(
                    self,
                    "/skills/{id}/agents",
                    &["skills", skill_id, "agents"],
                    Vec::new(),
                    &["agentSkillAssignments", "agents"],
                    LIST_PAGE_SIZE,
                )
                .collect_all()
                .await
                {
                    Err(CxoneError::NotFound { .. }) => return Ok(None),
                    other => other?,
                };
                items
                    .into_iter()
                    .map(|v| decode(&what, v))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            })
            .await
    }

    /// `GET /skills/{id}/activity`: the first `skillActivity` entry. `Ok(None)` on
    /// 404/204 or an empty list.
    ///
    /// # Errors
    /// As [`CxoneClient::skill`].
    pub async fn skill_activity(
        &self,
        skill_id: &str,
    ) -> Result<Option<SkillActivity>, CxoneError> {
        self.inner
            .caches
            .activity
            .get_or_fetch(skill_id.to_string(), || async {
                let what = format!("GET /skills/{skill_id}/activity");
                let body = absent_on_404(
                    self.get_json(
                        "/skills/{id}/activity",
                        &Target::Path(&["skills", skill_id, "activity"]),
                        &[],
                    )
                    .await,
                )?;
                let Some(body) = body else { return Ok(None) };
                match shape::list(&body, &["skillActivity"]).into_iter().next() {
                    None => Ok(None),
                    Some(v) => decode(&what, v).map(Some),
                }
            })
            .await
    }

    /// `GET /hours-of-operation/{id}`. `Ok(None)` on 404/204.
    ///
    /// # Errors
    /// As [`CxoneClient::skill`].
    pub async fn hours_profile(
        &self,
        profile_id: &str,
    ) -> Result<Option<HoursOfOperation>, CxoneError> {
        self.inner
            .caches
            .hours_detail
            .get_or_fetch(profile_id.to_string(), || async {
                let what = format!("GET /hours-of-operation/{profile_id}");
                let body = absent_on_404(
                    self.get_json(
                        "/hours-of-operation/{id}",
                        &Target::Path(&["hours-of-operation", profile_id]),
                        &[],
                    )
                    .await,
                )?;
                match body.and_then(|b| {
                    shape::record(b, &["hoursOfOperationProfiles", "hoursOfOperation"])
                }) {
                    None => Ok(None),
                    Some(v) => decode(&what, v).map(Some),
                }
            })
            .await
    }

    /// The hours-of-operation profile whose `skills[]` holds the skill: the list of
    /// profiles (`GET /hours-of-operation?isDeleted=false`), then each profile's detail
    /// until one lists the skill. `Ok(None)` when none does.
    ///
    /// # Errors
    /// As [`CxoneClient::skill`].
    pub async fn hours_for_skill(
        &self,
        skill_id: &str,
    ) -> Result<Option<HoursOfOperation>, CxoneError> {
        self.inner
            .caches
            .hours_for_skill
            .get_or_fetch(skill_id.to_string(), || async {
                let profiles = self.hours_profiles().await?;
                // Some versions list the skills in the list itself: no detail calls then.
                let mut ids = Vec::new();
                for v in profiles.iter() {
                    let p: HoursOfOperation = decode("GET /hours-of-operation", v.clone())?;
                    if holds_skill(&p, skill_id) && !p.days.is_empty() {
                        return Ok(Some(p));
                    }
                    if let Some(id) = p.hours_of_operation_profile_id {
                        ids.push(id);
                    }
                }
                // A few profiles at a time, stopping at the first that holds the skill.
                for chunk in ids.chunks(HOURS_CONCURRENCY) {
                    let details = futures_util::future::try_join_all(
                        chunk.iter().map(|id| self.hours_profile(id)),
                    )
                    .await?;
                    if let Some(p) = details
                        .into_iter()
                        .flatten()
                        .find(|p| holds_skill(p, skill_id))
                    {
                        return Ok(Some(p));
                    }
                }
                Ok(None)
            })
            .await
    }

    async fn hours_profiles(&self) -> Result<Arc<Vec<Value>>, CxoneError> {
        self.inner
            .caches
            .hours_list
            .get_or_fetch((), || async {
                let items = match Pager::new(
                    self,
                    "/hours-of-operation",
                    &["hours-of-operation"],
                    vec![("isDeleted", "false".to_string())],
                    &["hoursOfOperation", "hoursOfOperationProfiles"],
                    LIST_PAGE_SIZE,
                )
                .collect_all()
                .await
                {
                    Err(CxoneError::NotFound { .. }) => Vec::new(),
                    other => other?,
                };
                Ok(Arc::new(items))
            })
            .await
    }
}
