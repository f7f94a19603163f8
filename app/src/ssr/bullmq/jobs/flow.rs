//! The flow a job belongs to: walked up through `parent` (its queue key and id, across queues
//! and prefixes) to the root, then down through the children (pending, processed, failed and
//! ignored, as BullMQ's `getDependencies` lists them), level by level, each level's nodes read
//! at once (one `lua/node.lua` call each). Bounded: levels shown counting the root (`depth`,
//! as `getFlow`'s), children per node (`max_children`), nodes in all ([`MAX_NODES`]); what is
//! left out is counted on the node it hangs from. What it shows equals BullMQ's
//! `FlowProducer.getFlow` from the root with the same bounds.

use super::{parsed, script, text, STATE};
use crate::model::{FlowNode, FlowTree, JobId, JobState};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::sync::LazyLock;

static NODE: LazyLock<Script> = LazyLock::new(|| script(&[STATE, include_str!("lua/node.lua")]));

/// The most nodes one tree shows.
pub const MAX_NODES: u64 = 1000;
/// The most levels walked up to the root.
pub const MAX_LEVELS_UP: u32 = 20;

/// A job by its queue's key base (`prefix:queue:`) and id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Place {
    base: String,
    id: String,
}

impl Place {
    /// A job's full key split as BullMQ splits it: the id after the last `:`.
    fn from_key(key: &str) -> Option<Place> {
        let (base, id) = key.rsplit_once(':')?;
        Some(Place {
            base: format!("{base}:"),
            id: id.to_owned(),
        })
    }

    /// Prefix and queue name of its base.
    fn queue(&self) -> (String, String) {
        let trimmed = self.base.trim_end_matches(':');
        match trimmed.rsplit_once(':') {
            Some((prefix, queue)) => (prefix.to_owned(), queue.to_owned()),
            None => (String::new(), trimmed.to_owned()),
        }
    }
}

/// What `node.lua` read of one job.
struct Read {
    node: FlowNode,
    parent: Option<Place>,
    children: Vec<Place>,
}

async fn read(pool: &Pool, place: &Place, max_children: u64) -> Result<Option<Read>, AppError> {
    let reply: Vec<Value> = NODE
        .evalsha_with_reload(
            pool.next(),
            vec![format!("{}{}", place.base, place.id)],
            vec![
                place.base.clone(),
                place.id.clone(),
                max_children.to_string(),
            ],
        )
        .await?;
    if reply.is_empty() {
        return Ok(None);
    }
    // BullMQ's own `parent` JSON names the parent's queue key and id; `parentKey` alone
    // cannot tell an id holding `:` from its queue.
    let parent = serde_json::from_str::<serde_json::Value>(&text(reply.get(4)))
        .ok()
        .and_then(|parent| {
            Some(Place {
                base: format!("{}:", parent.get("queueKey")?.as_str()?),
                id: parent.get("id")?.as_str()?.to_owned(),
            })
        })
        .or_else(|| Place::from_key(&text(reply.get(3))));
    let children: Vec<Place> = match reply.get(6) {
        Some(Value::Array(keys)) => keys
            .iter()
            .filter_map(|key| Place::from_key(&key.as_string()?))
            .collect(),
        _ => Vec::new(),
    };
    let (prefix, queue_name) = place.queue();
    let progress = text(reply.get(2));
    Ok(Some(Read {
        node: FlowNode {
            queue_name,
            prefix,
            id: place.id.clone(),
            name: text(reply.first()),
            state: JobState::parse(&text(reply.get(1))).unwrap_or(JobState::Unknown),
            progress: if progress.is_empty() {
                serde_json::Value::from(0)
            } else {
                parsed(&progress)
            },
            children_count: reply.get(5).and_then(Value::as_u64).unwrap_or(0),
            children: Vec::new(),
            children_cut: 0,
            focus: false,
        },
        parent,
        children,
    }))
}

/// The tree `id` of `queue` belongs to, from its root; `None` when the id names no job.
pub async fn flow(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    id: &JobId,
    depth: u32,
    max_children: u64,
) -> Result<Option<FlowTree>, AppError> {
    let focus = Place {
        base: QueueKeys::new(prefix, &queue.name).base().to_owned(),
        id: id.as_str().to_owned(),
    };
    let Some(mut at) = read(pool, &focus, max_children).await? else {
        return Ok(None);
    };
    let mut place = focus.clone();
    let mut root_cut = false;
    for level in 0.. {
        let Some(parent) = at.parent.clone() else {
            break;
        };
        if level >= MAX_LEVELS_UP {
            root_cut = true;
            break;
        }
        match read(pool, &parent, max_children).await? {
            Some(read) => {
                at = read;
                place = parent;
            }
            None => {
                // The parent is gone: the tree starts here.
                root_cut = true;
                break;
            }
        }
    }
    // Down, a level at a time: `level` holds each node's path in the tree (child indexes from
    // the root) and what was read of it.
    let mut root = at.node.clone();
    root.focus = place == focus;
    let mut nodes = 1_u64;
    let mut truncated = root_cut;
    let mut level: Vec<(Vec<usize>, Read)> = vec![(Vec::new(), at)];
    for down in 0..depth {
        // The children to read next, each with its parent's path.
        let mut next: Vec<(Vec<usize>, Place)> = Vec::new();
        for (path, read) in &level {
            let shown = read
                .children
                .len()
                .min(usize::try_from(max_children).unwrap_or(0));
            let room =
                usize::try_from(MAX_NODES.saturating_sub(nodes + next.len() as u64)).unwrap_or(0);
            let take = if down + 1 < depth { shown.min(room) } else { 0 };
            let node = node_at(&mut root, path);
            node.children_cut = read.node.children_count.saturating_sub(take as u64);
            truncated |= node.children_cut > 0;
            next.extend(
                read.children
                    .iter()
                    .take(take)
                    .map(|child| (path.clone(), child.clone())),
            );
        }
        if next.is_empty() {
            break;
        }
        let reads = futures::future::join_all(
            next.iter()
                .map(|(_, place)| read(pool, place, max_children)),
        )
        .await;
        let mut following = Vec::new();
        for ((parent_path, place), read) in next.into_iter().zip(reads) {
            // A child whose job is gone is left out, as BullMQ's getFlow leaves it out.
            let Some(read) = read? else {
                continue;
            };
            let parent = node_at(&mut root, &parent_path);
            let mut node = read.node.clone();
            node.focus = place == focus;
            parent.children.push(node);
            let mut path = parent_path;
            path.push(parent.children.len() - 1);
            nodes += 1;
            following.push((path, read));
        }
        level = following;
    }
    Ok(Some(FlowTree {
        root,
        nodes,
        truncated,
        root_cut,
    }))
}

/// The node at `path` (child indexes from the root).
fn node_at<'a>(root: &'a mut FlowNode, path: &[usize]) -> &'a mut FlowNode {
    let mut node = root;
    for i in path {
        node = &mut node.children[*i];
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_as_bullmq_splits_them() {
        let place = Place::from_key("{bull}:emails:42").expect("a key");
        assert_eq!(place.base, "{bull}:emails:");
        assert_eq!(place.id, "42");
        assert_eq!(place.queue(), ("{bull}".into(), "emails".into()));
        let place = Place::from_key("a:b:c:7").expect("a key");
        assert_eq!(place.queue(), ("a:b".into(), "c".into()));
    }
}
