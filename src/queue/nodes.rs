//! The broker's nodes: `AMQP_URL` holds one URL, or a comma-separated list of the nodes of
//! one RabbitMQ cluster (CONTRACT.md section 3).
//!
//! Every connection of a process (the publisher's and each consumer's) tries the nodes in
//! turn, starting at a node picked at random when the process starts, so that processes
//! spread over the cluster. A connection that succeeds makes its node the start for the
//! next attempt; one that is lost moves the start past its node, so every connection of the
//! process tries a live node first rather than wait on the dead one again.
//!
//! A node's URL holds the password: only its `host:port` is ever shown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lapin::uri::AMQPUri;

/// What `AMQP_URL` looks like, for error messages.
const EXAMPLE: &str = "e.g. amqp://user:pass@rabbit-1:5672/%2f,amqp://user:pass@rabbit-2:5672/%2f";

/// Why `AMQP_URL` cannot be used. The message names the variable and which entry is wrong,
/// never the entry's text (it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NodesError(String);

/// One node of the cluster.
#[derive(Clone)]
pub struct Node {
    uri: AMQPUri,
    addr: String,
}

impl Node {
    /// `host:port`, for logs, `/readyz` and `check-config`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// What lapin connects to (holds the password).
    pub(crate) fn uri(&self) -> AMQPUri {
        self.uri.clone()
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.addr)
    }
}

struct Inner {
    nodes: Vec<Node>,
    /// Index of the node the next connection attempt starts at.
    start: AtomicUsize,
}

/// The nodes of `AMQP_URL`, with the process's place in them. Clones share that place.
#[derive(Clone)]
pub struct Nodes(Arc<Inner>);

impl std::fmt::Debug for Nodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.nodes.iter()).finish()
    }
}

impl Nodes {
    /// Parses `AMQP_URL`: one `amqp://` or `amqps://` URL, or several separated by commas
    /// (a comma inside a password must be written `%2C`). Blank entries are skipped.
    ///
    /// # Errors
    /// [`NodesError`] naming `AMQP_URL` and the entry that is not a usable AMQP URL.
    pub fn parse(raw: &str) -> Result<Self, NodesError> {
        let entries: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if entries.is_empty() {
            return Err(NodesError(format!("AMQP_URL names no node ({EXAMPLE})")));
        }
        let n = entries.len();
        let nodes = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                node(e).map_err(|why| {
                    let which = if n == 1 {
                        "AMQP_URL".to_string()
                    } else {
                        format!("AMQP_URL's node {} of {n}", i + 1)
                    };
                    NodesError(format!("{which} {why} ({EXAMPLE})"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Nodes(Arc::new(Inner {
            start: AtomicUsize::new(fastrand::usize(..nodes.len())),
            nodes,
        })))
    }

    /// Every node, in the order of `AMQP_URL`.
    pub fn all(&self) -> &[Node] {
        &self.0.nodes
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.0.nodes.len()
    }

    /// Never true: a parsed list has at least one node.
    pub fn is_empty(&self) -> bool {
        self.0.nodes.is_empty()
    }

    /// The order of one connection attempt: indexes of every node, from the current start.
    pub fn rotation(&self) -> impl Iterator<Item = usize> + use<> {
        let n = self.len();
        let start = self.0.start.load(Ordering::Relaxed) % n;
        (0..n).map(move |k| (start + k) % n)
    }

    /// The node at `i` (an index from [`Nodes::rotation`]).
    pub fn get(&self, i: usize) -> &Node {
        &self.0.nodes[i % self.len()]
    }

    /// A connection to node `i` succeeded: the next attempts start there.
    pub fn connected(&self, i: usize) {
        self.0.start.store(i, Ordering::Relaxed);
    }

    /// A connection to node `i` was lost: unless another connection already moved on, the
    /// next attempts start at the node after it.
    pub fn lost(&self, i: usize) {
        let _ = self.0.start.compare_exchange(
            i,
            (i + 1) % self.len(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

fn node(entry: &str) -> Result<Node, &'static str> {
    if !(entry.starts_with("amqp://") || entry.starts_with("amqps://")) {
        return Err("must start with amqp:// or amqps://");
    }
    let url = url::Url::parse(entry).map_err(|_| "is not a valid URL")?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        _ => return Err("names no host"),
    };
    let mut uri: AMQPUri = entry.parse().map_err(|_| "is not a valid AMQP URL")?;
    // lapin's parser keeps domain names only and turns an IP address into "localhost".
    uri.authority.host = host;
    let addr = match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]:{}", uri.authority.port),
        _ => format!("{}:{}", uri.authority.host, uri.authority.port),
    };
    Ok(Node { uri, addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_url_is_a_cluster_of_one_node() {
        let nodes = Nodes::parse("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes.get(0).addr(), "127.0.0.1:5672");
        assert_eq!(nodes.rotation().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_list_keeps_each_node_with_its_own_host_and_port() {
        let nodes = Nodes::parse(
            " amqp://u:p@rabbit-1/%2f , amqps://u:p@10.0.0.2:5999/v,amqp://u:p@[::1]:5673/%2f,",
        )
        .unwrap();
        let addrs: Vec<&str> = nodes.all().iter().map(Node::addr).collect();
        assert_eq!(addrs, ["rabbit-1:5672", "10.0.0.2:5999", "[::1]:5673"]);
        assert_eq!(nodes.get(1).uri().vhost, "v");
    }

    #[test]
    fn an_ip_address_is_connected_to_as_written_not_as_localhost() {
        let nodes = Nodes::parse("amqp://u:p@10.1.2.3:5672/%2f").unwrap();
        assert_eq!(nodes.get(0).uri().authority.host, "10.1.2.3");
    }

    #[test]
    fn a_malformed_entry_names_amqp_url_and_its_place_but_not_its_text() {
        let err = Nodes::parse("amqp://u:hunter2@a:5672/%2f,http://u:hunter2@b/")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("AMQP_URL's node 2 of 2"), "{err}");
        assert!(err.contains("amqp://"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        for bad in [
            "localhost",
            "amqp://",
            "amqp://u:p@:5672/%2f",
            ",",
            "amqp://h:99999/",
        ] {
            let err = Nodes::parse(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.starts_with("AMQP_URL")),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn the_debug_form_shows_addresses_never_passwords() {
        let nodes = Nodes::parse("amqp://u:hunter2@a:1/%2f,amqp://u:hunter2@b:2/%2f").unwrap();
        assert_eq!(format!("{nodes:?}"), "[a:1, b:2]");
    }

    #[test]
    fn attempts_go_round_the_list_from_the_start_and_skip_a_lost_node() {
        let nodes = Nodes::parse("amqp://a/,amqp://b/,amqp://c/").unwrap();
        nodes.connected(1);
        assert_eq!(nodes.rotation().collect::<Vec<_>>(), [1, 2, 0]);
        nodes.lost(1);
        assert_eq!(nodes.rotation().collect::<Vec<_>>(), [2, 0, 1]);
        // A second connection that was on the same node does not skip the next one too.
        nodes.lost(1);
        assert_eq!(nodes.rotation().next(), Some(2));
    }

    #[test]
    fn processes_start_at_different_nodes() {
        let starts: std::collections::HashSet<usize> = (0..200)
            .map(|_| {
                Nodes::parse("amqp://a/,amqp://b/,amqp://c/")
                    .unwrap()
                    .rotation()
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(starts.len(), 3);
    }
}
