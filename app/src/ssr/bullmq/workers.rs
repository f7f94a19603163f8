//! Which workers are connected to which queue, the way BullMQ's `getWorkers()` tells: BullMQ
//! names each worker connection `<prefix>:<base64 of the queue name>`, or
//! `<prefix>:<base64>:w:<worker name>` for a worker started with a `name`, and finds them in
//! `CLIENT LIST`. One `CLIENT LIST` (per primary, in a cluster) answers for every queue, so the
//! all-queues count costs the same whatever the number of queues.

use crate::model::Worker;
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::error::AppError;
use fred::interfaces::ClusterInterface;
use fred::prelude::*;
use std::collections::HashMap;

/// `CLIENT LIST` of every Redis the queues live on: one text per primary of a cluster, one
/// for a single server.
pub async fn client_lists(pool: &Pool) -> Result<Vec<String>, AppError> {
    let client = pool.next();
    if !client.is_clustered() {
        return Ok(vec![
            client.client_list::<String, String>(None, None).await?,
        ]);
    }
    let primaries = client
        .cached_cluster_state()
        .map(|state| state.unique_primary_nodes())
        .unwrap_or_default();
    let mut lists = Vec::with_capacity(primaries.len());
    for primary in primaries {
        lists.push(
            client
                .with_cluster_node(primary)
                .client_list::<String, String>(None, None)
                .await?,
        );
    }
    Ok(lists)
}

/// The workers of each of `queues` in `lists` (what [`client_lists`] read). Like BullMQ, a
/// cluster's answer for a queue is the node with the most of its workers (all of a worker's
/// connections go to the node of the queue's slot).
pub fn workers_by_queue(
    lists: &[String],
    prefix: &str,
    queues: &[QueueName],
) -> HashMap<QueueName, Vec<Worker>> {
    let by_client_name: HashMap<String, &QueueName> = queues
        .iter()
        .map(|queue| (client_name(prefix, queue), queue))
        .collect();
    let mut found: HashMap<QueueName, Vec<Worker>> = HashMap::new();
    for list in lists {
        let mut on_node: HashMap<&QueueName, Vec<Worker>> = HashMap::new();
        for worker in list.lines().filter_map(parse_client) {
            let base = match worker.client_name.find(":w:") {
                Some(at) => &worker.client_name[..at],
                None => worker.client_name.as_str(),
            };
            if let Some(queue) = by_client_name.get(base) {
                on_node.entry(queue).or_default().push(worker);
            }
        }
        for (queue, mut workers) in on_node {
            let best = found.entry(queue.clone()).or_default();
            if workers.len() > best.len() {
                workers.sort_by_key(|worker| std::cmp::Reverse(worker.age_seconds));
                *best = workers;
            }
        }
    }
    found
}

/// BullMQ's client name for a queue's workers: `<prefix>:<base64 of the name>`.
pub fn client_name(prefix: &str, queue: &QueueName) -> String {
    format!("{prefix}:{}", base64(queue.as_str().as_bytes()))
}

/// One line of `CLIENT LIST` (`id=7 addr=… name=… age=… idle=…`) as a worker, when it has a
/// name; which queue it belongs to is for the caller to say.
fn parse_client(line: &str) -> Option<Worker> {
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for pair in line.split(' ') {
        if let Some((key, value)) = pair.split_once('=') {
            fields.insert(key, value);
        }
    }
    let client_name = *fields.get("name").filter(|name| !name.is_empty())?;
    let number = |key: &str| fields.get(key).and_then(|v| v.parse().ok()).unwrap_or(0);
    Some(Worker {
        name: client_name
            .split_once(":w:")
            .map(|(_, name)| name.to_owned()),
        client_name: client_name.to_owned(),
        id: fields.get("id").copied().unwrap_or_default().to_owned(),
        addr: fields.get("addr").copied().unwrap_or_default().to_owned(),
        age_seconds: number("age"),
        idle_seconds: number("idle"),
    })
}

/// Standard base64 with padding, as Node's `Buffer.toString('base64')` writes it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str) -> QueueName {
        QueueName::parse(name).expect("name")
    }

    #[test]
    fn base64_matches_nodes_buffer_encoding() {
        // Buffer.from(x).toString('base64') for each.
        assert_eq!(base64(b"emails"), "ZW1haWxz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64("é-queue".as_bytes()), "w6ktcXVldWU=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn workers_are_found_by_their_client_names_named_or_not() {
        let list = "id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=bull:ZW1haWxz age=20 idle=0 flags=b\n\
                    id=4 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=9 name=bull:ZW1haWxz:w:mailer-1 age=50 idle=2 flags=N\n\
                    id=5 addr=127.0.0.1:5002 laddr=127.0.0.1:6379 fd=10 name=bull:ZW1haWxz:qe age=9 idle=1 flags=N\n\
                    id=6 addr=127.0.0.1:5003 laddr=127.0.0.1:6379 fd=11 name= age=9 idle=1 flags=N\n\
                    id=7 addr=127.0.0.1:5004 laddr=127.0.0.1:6379 fd=12 name=other:ZW1haWxz age=9 idle=1 flags=N";
        let found = workers_by_queue(
            &[list.to_owned()],
            "bull",
            &[queue("emails"), queue("idle")],
        );
        let emails = &found[&queue("emails")];
        assert_eq!(
            emails.len(),
            2,
            "queue events and other prefixes are no workers"
        );
        assert_eq!(emails[0].name.as_deref(), Some("mailer-1"), "oldest first");
        assert_eq!(emails[0].addr, "127.0.0.1:5001");
        assert_eq!((emails[0].age_seconds, emails[0].idle_seconds), (50, 2));
        assert_eq!(emails[1].name, None);
        assert_eq!(emails[1].client_name, "bull:ZW1haWxz");
        assert!(!found.contains_key(&queue("idle")));
    }

    #[test]
    fn a_cluster_answers_with_the_node_holding_most_of_a_queues_workers() {
        let one = "id=1 addr=a:1 name=bull:ZW1haWxz age=1 idle=0".to_owned();
        let two = "id=2 addr=b:1 name=bull:ZW1haWxz age=1 idle=0\n\
                   id=3 addr=b:2 name=bull:ZW1haWxz age=2 idle=0"
            .to_owned();
        let found = workers_by_queue(&[one, two], "bull", &[queue("emails")]);
        assert_eq!(found[&queue("emails")].len(), 2);
    }
}
