//! Paging through a CXone list, one page per call.
//!
//! CXone pages with `top`/`skip` and announces the next page in `_links.next`. Real
//! clients do either; we follow the link when there is one (replayed under our own API
//! base), else ask for the next `skip` while pages come back full, and stop on 204, an
//! empty page or a short page.
//!
//! Some versions ignore `skip` and send no `_links`: the same full page comes back for
//! every `skip`. A page equal to one already read ends the list with a warning naming the
//! endpoint, so such a server costs one extra page, not [`MAX_PAGES`].

use std::hash::{Hash, Hasher};

use serde_json::Value;

use super::client::{CxoneClient, Target, relative_link};
use super::error::CxoneError;
use super::shape;

/// A guard against an API that ignores `skip` (or links to itself) forever.
const MAX_PAGES: usize = 1000;

enum Next {
    Skip(usize),
    /// The link's target, and its `skip` when it says (to carry on without links).
    Link(Target<'static>, Option<usize>),
    Done,
}

/// A list endpoint read page by page.
pub(crate) struct Pager {
    client: CxoneClient,
    endpoint: &'static str,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    list_keys: &'static [&'static str],
    page_size: usize,
    next: Next,
    pages: usize,
    last_link: Option<String>,
    /// Fingerprints of the pages read so far.
    seen: std::collections::HashSet<u64>,
}

/// A fingerprint of a page's entries (their JSON text), to see a page come back.
fn fingerprint(items: &[Value]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for item in items {
        item.to_string().hash(&mut h);
    }
    h.finish()
}

impl Pager {
    pub fn new(
        client: &CxoneClient,
        endpoint: &'static str,
        segments: &[&str],
        query: Vec<(&'static str, String)>,
        list_keys: &'static [&'static str],
        page_size: usize,
    ) -> Self {
        Pager {
            client: client.clone(),
            endpoint,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query,
            list_keys,
            page_size: page_size.max(1),
            next: Next::Skip(0),
            pages: 0,
            last_link: None,
            seen: Default::default(),
        }
    }

    /// The next page's entries; `Ok(None)` once the list is exhausted. A 404 on any page
    /// is [`CxoneError::NotFound`].
    pub async fn next_page(&mut self) -> Result<Option<Vec<Value>>, CxoneError> {
        let (target, query, skip) = match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => return Ok(None),
            Next::Skip(skip) => {
                let mut q: Vec<(&str, String)> =
                    self.query.iter().map(|(k, v)| (*k, v.clone())).collect();
                q.push(("top", self.page_size.to_string()));
                q.push(("skip", skip.to_string()));
                (
                    Target::Relative {
                        segments: self.segments.clone(),
                        query: None,
                    },
                    q,
                    Some(skip),
                )
            }
            Next::Link(target, skip) => (target, Vec::new(), skip),
        };
        self.pages += 1;
        let Some(body) = self.client.get_json(self.endpoint, &target, &query).await? else {
            return Ok(if self.pages == 1 {
                Some(Vec::new())
            } else {
                None
            });
        };
        let items = shape::list(&body, self.list_keys);
        if items.is_empty() {
            return Ok(if self.pages == 1 { Some(items) } else { None });
        }
        if !self.seen.insert(fingerprint(&items)) {
            tracing::warn!(
                endpoint = self.endpoint,
                pages = self.pages,
                "CXone sent the same page twice (it ignores skip, or links to the page it \
                 sent); stopped reading this list there"
            );
            return Ok(None);
        }
        self.next = if self.pages >= MAX_PAGES {
            tracing::warn!(
                endpoint = self.endpoint,
                "stopped paging after {MAX_PAGES} pages"
            );
            Next::Done
        } else if let Some(link) = shape::next_link(&body)
            .filter(|l| self.last_link.as_deref() != Some(l.as_str()))
            .and_then(|l| relative_link(&l).map(|t| (l, t)))
        {
            let link_skip = url::Url::parse(&link.0).ok().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k.eq_ignore_ascii_case("skip"))
                    .and_then(|(_, v)| v.parse().ok())
            });
            self.last_link = Some(link.0);
            Next::Link(link.1, link_skip)
        } else if let Some(skip) = skip.filter(|_| items.len() >= self.page_size) {
            Next::Skip(skip + items.len())
        } else {
            Next::Done
        };
        Ok(Some(items))
    }

    /// Every entry of every page.
    pub async fn collect_all(mut self) -> Result<Vec<Value>, CxoneError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}
