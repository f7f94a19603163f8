//! Telling people that Redis went away, which the alert state cannot do: it lives in Redis.
//! The instance that held the alerts lease when Redis stopped answering speaks for the monitor
//! (the others stay quiet, so one notification goes out whatever the number of instances): once
//! Redis has been unreachable for a `redis_unreachable` rule's `for`, it sends that rule's
//! alert straight to its channels, one attempt each round until each channel took it, keeping
//! what it told and the delivery log in memory. When Redis answers again it sends the resolve
//! through the outboxes (retried like any notification), and writes the episode into the
//! resolved alerts and the delivery log.

use super::eval::{annotations, fingerprint, labels};
use super::notify::{self, Outcome};
use super::rules::{Condition, RuleSet};
use super::state::{Notice, Record, Store};
use crate::model::alerts::{AlertStatus, Delivery};
use crate::ssr::error::AppError;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What one instance knows of an outage.
#[derive(Default)]
pub struct Outage {
    /// Whether this instance held the lease at its last look at Redis.
    holder: bool,
    /// When Redis stopped answering (epoch ms).
    since: Option<u64>,
    /// (rule, channel) → the alert told there.
    told: BTreeMap<(String, String), Record>,
    /// Attempts made while Redis was away, for the delivery log.
    log: Vec<Delivery>,
}

/// The outage state of an instance (shared by its clones).
#[derive(Default)]
pub struct Watch(Mutex<Outage>);

impl Watch {
    fn with<T>(&self, f: impl FnOnce(&mut Outage) -> T) -> T {
        let mut outage = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut outage)
    }

    /// Redis did not answer the lease at `now`: tells the channels of each `redis_unreachable`
    /// rule whose `for` has passed, if this instance was the lease holder.
    pub async fn down(&self, rules: &RuleSet, http: &reqwest::Client, prefix: &str, now: u64) {
        let Some(since) = self.with(|o| o.holder.then(|| *o.since.get_or_insert(now))) else {
            return;
        };
        for rule in &rules.rules {
            if rule.condition != Condition::RedisUnreachable
                || u128::from(now.saturating_sub(since)) < rule.hold.as_millis()
            {
                continue;
            }
            let labels = labels(rule, None, prefix);
            let record = Record {
                fingerprint: fingerprint(&labels),
                rule: rule.name.clone(),
                status: AlertStatus::Firing,
                labels,
                annotations: annotations(rule, None, 1.0),
                active_since: since,
                starts_at: Some(now),
                ends_at: None,
                value: 1.0,
                sent: BTreeMap::new(),
            };
            for name in &rule.channels {
                let key = (rule.name.clone(), name.clone());
                let (Some(channel), false) = (
                    rules.channel(name),
                    self.with(|o| o.told.contains_key(&key)),
                ) else {
                    continue;
                };
                let notice = Notice {
                    id: crate::ssr::bulk::store::new_id(),
                    channel: name.clone(),
                    kind: "firing".into(),
                    alerts: vec![record.alert(rules.dashboard_url.as_deref())],
                };
                let external = rules.dashboard_url.as_deref().unwrap_or("");
                let outcome = notify::send(http, channel, &notice, external).await;
                let delivered = matches!(outcome, Outcome::Delivered(_));
                let (delivery, _) = super::record(&notice, 1, &outcome);
                self.with(|o| {
                    o.log.push(delivery);
                    if delivered {
                        o.told.insert(key, record.clone());
                    }
                });
            }
        }
    }

    /// Redis answered the lease (`holder`: this instance holds it): what was told of an
    /// outage is resolved through the outboxes, and the episode written down.
    pub async fn back(
        &self,
        store: &Store,
        rules: &RuleSet,
        holder: bool,
        now: u64,
    ) -> Result<(), AppError> {
        let (told, log) = self.with(|o| {
            o.holder = holder;
            o.since = None;
            (std::mem::take(&mut o.told), std::mem::take(&mut o.log))
        });
        let mut resolved: BTreeMap<String, Record> = BTreeMap::new();
        for ((_, channel), mut record) in told {
            record.status = AlertStatus::Resolved;
            record.ends_at = Some(now);
            let notice = Notice {
                id: crate::ssr::bulk::store::new_id(),
                channel,
                kind: "resolved".into(),
                alerts: vec![record.alert(rules.dashboard_url.as_deref())],
            };
            store.enqueue(&notice).await?;
            resolved.insert(record.fingerprint.clone(), record);
        }
        for record in resolved.values() {
            store.push_resolved(record).await?;
        }
        for delivery in log {
            store.log(&delivery).await?;
        }
        Ok(())
    }

    /// Whether nothing waits to be told or written.
    pub fn quiet(&self) -> bool {
        self.with(|o| o.told.is_empty() && o.log.is_empty() && o.since.is_none())
    }

    /// Notes whether this instance holds the lease (when nothing else changed).
    pub fn held(&self, holder: bool) {
        self.with(|o| o.holder = holder);
    }
}
