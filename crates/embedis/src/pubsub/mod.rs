//! Pub/sub: the broker that routes PUBLISH, SPUBLISH and keyspace notifications to channel,
//! pattern and shard-channel subscribers.
//!
//! - Registries: channels and shard channels are hash maps split into [`REGISTRY_SHARDS`]
//!   read-write-locked shards by channel hash, so publishers to different channels do not
//!   contend; patterns are one map (every publish has to try every pattern anyway, as in
//!   Redis) skipped entirely while there is none. Each entry lists its subscribers in
//!   subscription order.
//! - Subscribers: each has one [`Queue`] bounded in bytes by the pub/sub output-buffer limit
//!   (see [`queue`]); publishing appends to it under the queue's own lock and never waits for
//!   the consumer. A publisher delivers one message to every subscriber before it returns, so
//!   each subscriber sees one publisher's messages in the order they were published.
//! - Consumers: a server connection drains its client's queue ([`Pushes`]); in-process users
//!   hold a [`Subscription`] or a [`KeyEvents`] stream; both unregister on drop.
//! - Keyspace notifications: [`Broker::notify`] publishes `__keyspace@<db>__:<key>` and
//!   `__keyevent@<db>__:<event>` messages when `notify-keyspace-events` asks for them, and
//!   feeds in-process [`KeyEvents`] listeners. Commands call it through
//!   [`Access::notify`](crate::keyspace::Access::notify), which costs one relaxed atomic load
//!   when nobody listens.

pub mod client;
pub mod event;
pub mod queue;
pub mod stream;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

pub use client::{ClientPubSub, Pushes};
pub use event::{Event, KeyEvent};
pub use queue::{OutputLimit, Pushed, Queue, Weigh};
pub use stream::{KeyEvents, Message, MessageKind, Subscription};

use crate::config::notify;
use crate::glob;
use crate::reply::Reply;
use crate::stats::Counter;

/// Shards of the channel registries.
pub const REGISTRY_SHARDS: usize = 16;

/// What a subscriber's queue holds: messages, and (for clients) the replies of their
/// (un)subscribe commands, which Redis sends as pushes and which must stay in order with the
/// messages.
#[derive(Debug, Clone)]
pub enum Item {
    /// A message on a channel the subscriber subscribed to.
    Message {
        /// The channel.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// A message on a channel matching a pattern the subscriber subscribed to.
    PMessage {
        /// The pattern.
        pattern: Bytes,
        /// The channel.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// A message on a shard channel.
    SMessage {
        /// The channel.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// The reply to one channel of a (P|S)(UN)SUBSCRIBE: `[kind, channel or nil, count]`.
    Ack {
        /// `subscribe`, `unsubscribe`, `psubscribe`...
        kind: &'static str,
        /// The channel or pattern (`None` for an unsubscribe-all with nothing subscribed).
        channel: Option<Bytes>,
        /// Subscriptions left (channels + patterns, or shard channels).
        count: i64,
    },
}

impl Item {
    /// The push frame a client receives for this item.
    pub fn to_reply(&self) -> Reply {
        match self {
            Item::Message { channel, payload } => Reply::Push(vec![
                Reply::Bulk(Bytes::from_static(b"message")),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(payload.clone()),
            ]),
            Item::PMessage {
                pattern,
                channel,
                payload,
            } => Reply::Push(vec![
                Reply::Bulk(Bytes::from_static(b"pmessage")),
                Reply::Bulk(pattern.clone()),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(payload.clone()),
            ]),
            Item::SMessage { channel, payload } => Reply::Push(vec![
                Reply::Bulk(Bytes::from_static(b"smessage")),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(payload.clone()),
            ]),
            Item::Ack {
                kind,
                channel,
                count,
            } => Reply::Push(vec![
                Reply::Bulk(Bytes::from_static(kind.as_bytes())),
                channel.clone().map_or(Reply::Nil, Reply::Bulk),
                Reply::Int(*count),
            ]),
        }
    }
}

/// Length of a RESP bulk string of `n` bytes: `$<n>\r\n<bytes>\r\n`.
fn bulk_len(n: usize) -> usize {
    let digits = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
    1 + digits + 2 + n + 2
}

impl Weigh for Item {
    /// The RESP2/RESP3 encoded size (both have the same length: `*` or `>`).
    fn weight(&self) -> usize {
        match self {
            Item::Message { channel, payload } => {
                4 + bulk_len(7) + bulk_len(channel.len()) + bulk_len(payload.len())
            }
            Item::PMessage {
                pattern,
                channel,
                payload,
            } => {
                4 + bulk_len(8)
                    + bulk_len(pattern.len())
                    + bulk_len(channel.len())
                    + bulk_len(payload.len())
            }
            Item::SMessage { channel, payload } => {
                4 + bulk_len(8) + bulk_len(channel.len()) + bulk_len(payload.len())
            }
            Item::Ack { kind, channel, .. } => {
                4 + bulk_len(kind.len()) + channel.as_ref().map_or(5, |c| bulk_len(c.len())) + 24
            }
        }
    }
}

impl Weigh for KeyEvent {
    fn weight(&self) -> usize {
        // The key, plus what a listener's entry costs.
        self.key.len() + std::mem::size_of::<KeyEvent>()
    }
}

/// One subscriber: a client connection or an in-process [`Subscription`].
#[derive(Debug)]
pub struct Subscriber {
    id: u64,
    queue: Queue<Item>,
}

impl Subscriber {
    /// The subscriber's queue.
    pub fn queue(&self) -> &Queue<Item> {
        &self.queue
    }
}

/// An in-process keyspace event listener.
#[derive(Debug)]
pub(crate) struct Listener {
    id: u64,
    classes: u32,
    queue: Queue<KeyEvent>,
}

type Subscribers = Vec<Arc<Subscriber>>;
type ChannelMap = HashMap<Bytes, Subscribers, foldhash::fast::RandomState>;

/// Channels (or shard channels) and their subscribers, sharded by channel hash.
struct Registry {
    shards: Box<[RwLock<ChannelMap>]>,
    hasher: foldhash::fast::RandomState,
    channels: AtomicUsize,
}

impl Registry {
    fn new() -> Self {
        Registry {
            shards: (0..REGISTRY_SHARDS)
                .map(|_| RwLock::new(ChannelMap::default()))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
            channels: AtomicUsize::new(0),
        }
    }

    fn shard(&self, channel: &[u8]) -> &RwLock<ChannelMap> {
        let h = self.hasher.hash_one(channel) as usize;
        &self.shards[h % REGISTRY_SHARDS]
    }

    /// Adds `sub` to `channel`; the caller knows it was not there.
    fn add(&self, channel: &Bytes, sub: &Arc<Subscriber>) {
        let mut map = self.shard(channel).write();
        let subs = map.entry(channel.clone()).or_insert_with(|| {
            self.channels.fetch_add(1, Ordering::Relaxed);
            Vec::new()
        });
        subs.push(sub.clone());
    }

    fn remove(&self, channel: &[u8], id: u64) {
        let mut map = self.shard(channel).write();
        if let Some(subs) = map.get_mut(channel) {
            if let Some(i) = subs.iter().position(|s| s.id == id) {
                subs.remove(i);
            }
            if subs.is_empty() {
                map.remove(channel);
                self.channels.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn count(&self, channel: &[u8]) -> usize {
        self.shard(channel).read().get(channel).map_or(0, Vec::len)
    }

    /// Channels with at least one subscriber, matching `pattern` when given.
    fn list(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            for ch in shard.read().keys() {
                if pattern.is_none_or(|p| glob::matches(p, ch, false)) {
                    out.push(ch.clone());
                }
            }
        }
        out
    }
}

/// Patterns and their subscribers.
#[derive(Default)]
struct Patterns {
    map: RwLock<HashMap<Bytes, Subscribers, foldhash::fast::RandomState>>,
    count: AtomicUsize,
}

/// The pub/sub broker of one engine.
pub struct Broker {
    channels: Registry,
    shard_channels: Registry,
    patterns: Patterns,
    listeners: RwLock<Vec<Arc<Listener>>>,
    /// `notify-keyspace-events` classes, as configured.
    config_classes: AtomicU32,
    /// Classes in-process listeners want.
    listener_classes: AtomicU32,
    /// Classes anyone wants: the one word [`Access::notify`] reads.
    ///
    /// [`Access::notify`]: crate::keyspace::Access::notify
    wanted: AtomicU32,
    limit_hard: AtomicU64,
    limit_soft: AtomicU64,
    limit_soft_seconds: AtomicU64,
    next_id: AtomicU64,
    /// Subscribers cut off for passing the output-buffer limit (not in Redis 7.0's INFO; 7.2
    /// reports it as `client_output_buffer_limit_disconnections`).
    pub limit_disconnections: Counter,
    /// Serializes listener registration so that `listener_classes` matches the list.
    listener_lock: Mutex<()>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("channels", &self.channels.channels.load(Ordering::Relaxed))
            .field("patterns", &self.patterns.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Broker {
    fn default() -> Self {
        Broker::new()
    }
}

impl Broker {
    /// An empty broker with Redis's default pub/sub output-buffer limit.
    pub fn new() -> Self {
        let limit = OutputLimit::PUBSUB_DEFAULT;
        Broker {
            channels: Registry::new(),
            shard_channels: Registry::new(),
            patterns: Patterns::default(),
            listeners: RwLock::new(Vec::new()),
            config_classes: AtomicU32::new(0),
            listener_classes: AtomicU32::new(0),
            wanted: AtomicU32::new(0),
            limit_hard: AtomicU64::new(limit.hard),
            limit_soft: AtomicU64::new(limit.soft),
            limit_soft_seconds: AtomicU64::new(limit.soft_seconds),
            next_id: AtomicU64::new(1),
            limit_disconnections: Counter::default(),
            listener_lock: Mutex::new(()),
        }
    }

    /// A new subscriber, registered nowhere yet.
    pub fn new_subscriber(&self) -> Arc<Subscriber> {
        Arc::new(Subscriber {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            queue: Queue::default(),
        })
    }

    /// Sets the `notify-keyspace-events` classes ([`crate::config::notify`] bits).
    pub fn set_notify_classes(&self, classes: u32) {
        self.config_classes.store(classes, Ordering::Relaxed);
        self.update_wanted();
    }

    fn update_wanted(&self) {
        let config = self.config_classes.load(Ordering::Relaxed);
        // Without K or E nothing is published, whatever the classes (Redis's rule).
        let published = if config & (notify::KEYSPACE | notify::KEYEVENT) != 0 {
            config
        } else {
            0
        };
        let wanted = published | self.listener_classes.load(Ordering::Relaxed);
        self.wanted.store(wanted, Ordering::Relaxed);
    }

    /// The classes someone wants events of: a command reports an event only if its class is
    /// in here.
    #[inline]
    pub fn wanted_classes(&self) -> u32 {
        self.wanted.load(Ordering::Relaxed)
    }

    /// Sets the pub/sub output-buffer limit.
    pub fn set_output_limit(&self, limit: OutputLimit) {
        self.limit_hard.store(limit.hard, Ordering::Relaxed);
        self.limit_soft.store(limit.soft, Ordering::Relaxed);
        self.limit_soft_seconds
            .store(limit.soft_seconds, Ordering::Relaxed);
    }

    /// The pub/sub output-buffer limit in force.
    pub fn output_limit(&self) -> OutputLimit {
        OutputLimit {
            hard: self.limit_hard.load(Ordering::Relaxed),
            soft: self.limit_soft.load(Ordering::Relaxed),
            soft_seconds: self.limit_soft_seconds.load(Ordering::Relaxed),
        }
    }

    /// Queues `item` for `sub` under the output-buffer limit, counting a cut-off.
    pub(crate) fn deliver(&self, sub: &Subscriber, item: Item, now_ms: u64) {
        if sub.queue.push(item, self.output_limit(), now_ms) == Pushed::Overflowed {
            self.limit_disconnections.inc();
        }
    }

    /// PUBLISH: delivers `payload` to the subscribers of `channel` and of every matching
    /// pattern; returns how many received it (one per pattern subscription, as in Redis).
    pub fn publish(&self, channel: &[u8], payload: &[u8], now_ms: u64) -> usize {
        let mut receivers = 0;
        let mut channel_bytes: Option<Bytes> = None;
        let payload = Bytes::copy_from_slice(payload);
        {
            let map = self.channels.shard(channel).read();
            if let Some(subs) = map.get(channel) {
                let ch = channel_bytes.get_or_insert_with(|| Bytes::copy_from_slice(channel));
                for s in subs {
                    let item = Item::Message {
                        channel: ch.clone(),
                        payload: payload.clone(),
                    };
                    self.deliver(s, item, now_ms);
                    receivers += 1;
                }
            }
        }
        if self.patterns.count.load(Ordering::Relaxed) > 0 {
            let map = self.patterns.map.read();
            for (pattern, subs) in map.iter() {
                if !glob::matches(pattern, channel, false) {
                    continue;
                }
                let ch = channel_bytes.get_or_insert_with(|| Bytes::copy_from_slice(channel));
                for s in subs {
                    let item = Item::PMessage {
                        pattern: pattern.clone(),
                        channel: ch.clone(),
                        payload: payload.clone(),
                    };
                    self.deliver(s, item, now_ms);
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// SPUBLISH: delivers `payload` to the subscribers of shard channel `channel`.
    pub fn spublish(&self, channel: &[u8], payload: &[u8], now_ms: u64) -> usize {
        let map = self.shard_channels.shard(channel).read();
        let Some(subs) = map.get(channel) else {
            return 0;
        };
        let ch = Bytes::copy_from_slice(channel);
        let payload = Bytes::copy_from_slice(payload);
        for s in subs {
            let item = Item::SMessage {
                channel: ch.clone(),
                payload: payload.clone(),
            };
            self.deliver(s, item, now_ms);
        }
        subs.len()
    }

    /// Reports a keyspace event: publishes it as `notify-keyspace-events` asks and hands it
    /// to in-process listeners that want its class.
    pub fn notify(&self, db: usize, event: Event, key: &[u8], now_ms: u64) {
        let class = event.class();
        let config = self.config_classes.load(Ordering::Relaxed);
        if config & class != 0 {
            let mut db_text = itoa::Buffer::new();
            let db_text = db_text.format(db).as_bytes();
            if config & notify::KEYSPACE != 0 {
                let channel = [b"__keyspace@", db_text, b"__:", key].concat();
                self.publish(&channel, event.name().as_bytes(), now_ms);
            }
            if config & notify::KEYEVENT != 0 {
                let channel = [b"__keyevent@", db_text, b"__:", event.name().as_bytes()].concat();
                self.publish(&channel, key, now_ms);
            }
        }
        if self.listener_classes.load(Ordering::Relaxed) & class != 0 {
            let limit = self.output_limit();
            let key = Bytes::copy_from_slice(key);
            for l in self.listeners.read().iter() {
                if l.classes & class != 0 {
                    let e = KeyEvent {
                        db,
                        event,
                        key: key.clone(),
                    };
                    if l.queue.push(e, limit, now_ms) == Pushed::Overflowed {
                        self.limit_disconnections.inc();
                    }
                }
            }
        }
    }

    pub(crate) fn subscribe_channel(&self, shard: bool, channel: &Bytes, sub: &Arc<Subscriber>) {
        self.registry(shard).add(channel, sub);
    }

    pub(crate) fn unsubscribe_channel(&self, shard: bool, channel: &[u8], sub: &Subscriber) {
        self.registry(shard).remove(channel, sub.id);
    }

    pub(crate) fn subscribe_pattern(&self, pattern: &Bytes, sub: &Arc<Subscriber>) {
        let mut map = self.patterns.map.write();
        map.entry(pattern.clone())
            .or_insert_with(|| {
                self.patterns.count.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            })
            .push(sub.clone());
    }

    pub(crate) fn unsubscribe_pattern(&self, pattern: &[u8], sub: &Subscriber) {
        let mut map = self.patterns.map.write();
        if let Some(subs) = map.get_mut(pattern) {
            if let Some(i) = subs.iter().position(|s| s.id == sub.id) {
                subs.remove(i);
            }
            if subs.is_empty() {
                map.remove(pattern);
                self.patterns.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn registry(&self, shard: bool) -> &Registry {
        if shard {
            &self.shard_channels
        } else {
            &self.channels
        }
    }

    pub(crate) fn add_listener(&self, classes: u32) -> Arc<Listener> {
        let l = Arc::new(Listener {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            classes,
            queue: Queue::default(),
        });
        let _g = self.listener_lock.lock();
        let mut ls = self.listeners.write();
        ls.push(l.clone());
        let union = ls.iter().fold(0, |acc, l| acc | l.classes);
        drop(ls);
        self.listener_classes.store(union, Ordering::Relaxed);
        self.update_wanted();
        l
    }

    pub(crate) fn remove_listener(&self, id: u64) {
        let _g = self.listener_lock.lock();
        let mut ls = self.listeners.write();
        ls.retain(|l| l.id != id);
        let union = ls.iter().fold(0, |acc, l| acc | l.classes);
        drop(ls);
        self.listener_classes.store(union, Ordering::Relaxed);
        self.update_wanted();
    }

    /// PUBSUB CHANNELS: channels with subscribers, matching `pattern` when given.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels.list(pattern)
    }

    /// PUBSUB SHARDCHANNELS.
    pub fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.shard_channels.list(pattern)
    }

    /// PUBSUB NUMSUB for one channel.
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.count(channel)
    }

    /// PUBSUB SHARDNUMSUB for one channel.
    pub fn shard_numsub(&self, channel: &[u8]) -> usize {
        self.shard_channels.count(channel)
    }

    /// PUBSUB NUMPAT: distinct patterns with subscribers.
    pub fn numpat(&self) -> usize {
        self.patterns.count.load(Ordering::Relaxed)
    }

    /// Channels with subscribers (INFO `pubsub_channels`).
    pub fn channel_count(&self) -> usize {
        self.channels.channels.load(Ordering::Relaxed)
    }

    /// Shard channels with subscribers (INFO `pubsubshard_channels`).
    pub fn shard_channel_count(&self) -> usize {
        self.shard_channels.channels.load(Ordering::Relaxed)
    }

    /// In-process keyspace event listeners.
    pub fn listener_count(&self) -> usize {
        self.listeners.read().len()
    }
}

#[cfg(test)]
mod tests;
