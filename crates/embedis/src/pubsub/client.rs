//! A client's subscriptions (one per connection or [`Session`](crate::Session)): what
//! SUBSCRIBE and friends change, the replies they push, and [`Pushes`], the receiving end a
//! server connection drains.
//!
//! The (un)subscribe replies go through the client's queue rather than being returned by the
//! command: a message published on a channel right after the client subscribed must reach
//! the client after the reply that confirms the subscription, as it does in Redis, and the
//! queue is where that order is kept. The command itself returns [`Reply::Pushed`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::{Broker, Item, Subscriber};
use crate::reply::Reply;

/// A set that remembers insertion order (unsubscribe-all replies in subscription order).
#[derive(Debug, Default)]
struct OrderedSet {
    seq: HashMap<Bytes, u64, foldhash::fast::RandomState>,
    order: BTreeMap<u64, Bytes>,
    next: u64,
}

impl OrderedSet {
    fn insert(&mut self, v: &Bytes) -> bool {
        if self.seq.contains_key(v) {
            return false;
        }
        self.seq.insert(v.clone(), self.next);
        self.order.insert(self.next, v.clone());
        self.next += 1;
        true
    }

    fn remove(&mut self, v: &[u8]) -> bool {
        match self.seq.remove(v) {
            Some(n) => {
                self.order.remove(&n);
                true
            }
            None => false,
        }
    }

    fn len(&self) -> usize {
        self.seq.len()
    }

    fn take_all(&mut self) -> Vec<Bytes> {
        self.seq.clear();
        std::mem::take(&mut self.order).into_values().collect()
    }
}

/// Which kind of subscription a command manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / UNSUBSCRIBE.
    Channel,
    /// PSUBSCRIBE / PUNSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE / SUNSUBSCRIBE.
    Shard,
}

impl Kind {
    fn subscribe_name(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    fn unsubscribe_name(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// One client's subscriptions and push queue. Dropping it removes every subscription.
pub struct ClientPubSub {
    broker: Arc<Broker>,
    sub: Arc<Subscriber>,
    channels: OrderedSet,
    patterns: OrderedSet,
    shard: OrderedSet,
    /// When set, replies are collected here instead of queued (inside MULTI/EXEC, where they
    /// are part of EXEC's reply).
    inline: Option<Vec<Item>>,
}

impl std::fmt::Debug for ClientPubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPubSub")
            .field("channels", &self.channels.len())
            .field("patterns", &self.patterns.len())
            .field("shard", &self.shard.len())
            .finish()
    }
}

impl ClientPubSub {
    /// No subscriptions yet, with an empty queue.
    pub fn new(broker: Arc<Broker>) -> Self {
        let sub = broker.new_subscriber();
        ClientPubSub {
            broker,
            sub,
            channels: OrderedSet::default(),
            patterns: OrderedSet::default(),
            shard: OrderedSet::default(),
            inline: None,
        }
    }

    /// From now on, collect (un)subscribe replies instead of queueing them.
    pub fn collect_replies(&mut self) {
        self.inline = Some(Vec::new());
    }

    /// The replies collected since [`ClientPubSub::collect_replies`]; queueing resumes.
    pub fn take_replies(&mut self) -> Vec<Reply> {
        self.inline
            .take()
            .unwrap_or_default()
            .iter()
            .map(Item::to_reply)
            .collect()
    }

    /// Channels subscribed to.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Patterns subscribed to.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Shard channels subscribed to.
    pub fn shard_count(&self) -> usize {
        self.shard.len()
    }

    /// Whether the client has any subscription (Redis's pub/sub mode).
    pub fn is_subscribed(&self) -> bool {
        self.channels.len() + self.patterns.len() + self.shard.len() > 0
    }

    /// The count the replies of `kind` report: channels + patterns, or shard channels.
    fn count(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Shard => self.shard.len() as i64,
            _ => (self.channels.len() + self.patterns.len()) as i64,
        }
    }

    fn set(&mut self, kind: Kind) -> &mut OrderedSet {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    fn ack(&mut self, kind: &'static str, channel: Option<Bytes>, count: i64, now_ms: u64) {
        let item = Item::Ack {
            kind,
            channel,
            count,
        };
        match &mut self.inline {
            Some(v) => v.push(item),
            None => self.broker.deliver(&self.sub, item, now_ms),
        }
    }

    /// (P|S)SUBSCRIBE: subscribes to each name and queues one reply per name.
    pub fn subscribe(&mut self, kind: Kind, names: &[Bytes], now_ms: u64) {
        for name in names {
            let added = self.set(kind).insert(name);
            // The reply is queued before the subscription becomes visible to publishers, so
            // that it precedes every message on the channel.
            self.ack(
                kind.subscribe_name(),
                Some(name.clone()),
                self.count(kind),
                now_ms,
            );
            if added {
                match kind {
                    Kind::Pattern => self.broker.subscribe_pattern(name, &self.sub),
                    Kind::Channel => self.broker.subscribe_channel(false, name, &self.sub),
                    Kind::Shard => self.broker.subscribe_channel(true, name, &self.sub),
                }
            }
        }
    }

    /// (P|S)UNSUBSCRIBE: unsubscribes from each name (from all when `names` is empty) and
    /// queues one reply per name (one with a nil name when there was nothing to leave).
    pub fn unsubscribe(&mut self, kind: Kind, names: &[Bytes], now_ms: u64) {
        let all;
        let names = if names.is_empty() {
            all = self.set(kind).take_all();
            for name in &all {
                self.unregister(kind, name);
            }
            if all.is_empty() {
                self.ack(kind.unsubscribe_name(), None, self.count(kind), now_ms);
                return;
            }
            // Replies report the count left after each one, as Redis does while it walks
            // the client's subscriptions.
            let mut left = self.count(kind) + all.len() as i64;
            for name in &all {
                left -= 1;
                self.ack(kind.unsubscribe_name(), Some(name.clone()), left, now_ms);
            }
            return;
        } else {
            names
        };
        for name in names {
            if self.set(kind).remove(name) {
                self.unregister(kind, name);
            }
            self.ack(
                kind.unsubscribe_name(),
                Some(name.clone()),
                self.count(kind),
                now_ms,
            );
        }
    }

    fn unregister(&self, kind: Kind, name: &[u8]) {
        match kind {
            Kind::Pattern => self.broker.unsubscribe_pattern(name, &self.sub),
            Kind::Channel => self.broker.unsubscribe_channel(false, name, &self.sub),
            Kind::Shard => self.broker.unsubscribe_channel(true, name, &self.sub),
        }
    }

    /// RESET: leaves everything without replies.
    pub fn reset(&mut self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in self.set(kind).take_all() {
                self.unregister(kind, &name);
            }
        }
    }

    /// The receiving end of this client's queue.
    pub fn pushes(&self) -> Pushes {
        Pushes {
            sub: self.sub.clone(),
        }
    }
}

impl Drop for ClientPubSub {
    fn drop(&mut self) {
        self.reset();
        self.sub.queue.close();
    }
}

/// The receiving end of a client's pushes: subscription replies and messages, in order. A
/// server connection waits on [`Pushes::ready`] alongside its socket and writes what
/// [`Pushes::drain`] hands it before the reply of the command it just ran.
#[derive(Debug, Clone)]
pub struct Pushes {
    sub: Arc<Subscriber>,
}

impl Pushes {
    /// Ready when something is queued or the client was cut off.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.sub.queue.poll_ready(cx)
    }

    /// Completes when something is queued or the client was cut off.
    pub fn ready(&self) -> Ready<'_> {
        Ready { pushes: self }
    }

    /// Completes when the client passes its output-buffer limit (to watch while writing).
    pub fn overflow(&self) -> Overflow<'_> {
        Overflow { pushes: self }
    }

    /// Hands queued pushes to `f`, oldest first, until about `max_bytes` of encoded output
    /// were taken; returns the bytes taken.
    pub fn drain(&self, max_bytes: usize, mut f: impl FnMut(Reply)) -> usize {
        self.sub.queue.drain(max_bytes, |item| f(item.to_reply()))
    }

    /// Takes the next push, if any.
    pub fn try_next(&self) -> Option<Reply> {
        self.sub.queue.try_pop().map(|i| i.to_reply())
    }

    /// Whether the client passed its output-buffer limit and must be disconnected.
    pub fn overflowed(&self) -> bool {
        self.sub.queue.overflowed()
    }

    /// Bytes of encoded output waiting (CLIENT LIST `omem`-like figure).
    pub fn pending_bytes(&self) -> u64 {
        self.sub.queue.bytes()
    }

    /// Pushes waiting.
    pub fn pending(&self) -> usize {
        self.sub.queue.len()
    }
}

/// Future of [`Pushes::ready`].
#[derive(Debug)]
pub struct Ready<'a> {
    pushes: &'a Pushes,
}

impl Future for Ready<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.pushes.poll_ready(cx)
    }
}

/// Future of [`Pushes::overflow`].
#[derive(Debug)]
pub struct Overflow<'a> {
    pushes: &'a Pushes,
}

impl Future for Overflow<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.pushes.sub.queue.poll_overflowed(cx)
    }
}
