//! Typed pub/sub: publish, in-process subscriptions as `Stream`s, typed keyspace events.

use bytes::Bytes;

use crate::config::notify;
use crate::db::Db;
use crate::pubsub::{KeyEvents, Subscription};

fn names<I, A>(items: I) -> Vec<Bytes>
where
    I: IntoIterator<Item = A>,
    A: AsRef<[u8]>,
{
    items
        .into_iter()
        .map(|a| Bytes::copy_from_slice(a.as_ref()))
        .collect()
}

impl Db {
    /// PUBLISH: sends `payload` to the subscribers of `channel` (clients of a server on this
    /// engine and in-process subscriptions alike) and of every matching pattern; returns how
    /// many received it.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// let sub = db.subscribe(["news"]);
    /// assert_eq!(db.publish("news", "hello"), 1);
    /// assert_eq!(&sub.try_next().unwrap().payload[..], b"hello");
    /// ```
    pub fn publish(&self, channel: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> usize {
        let now = self.engine().clock.now_millis();
        self.engine()
            .pubsub()
            .publish(channel.as_ref(), payload.as_ref(), now)
    }

    /// SPUBLISH: sends `payload` to the subscribers of shard channel `channel`.
    pub fn spublish(&self, channel: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> usize {
        let now = self.engine().clock.now_millis();
        self.engine()
            .pubsub()
            .spublish(channel.as_ref(), payload.as_ref(), now)
    }

    /// SUBSCRIBE in-process: a [`Subscription`] (a `futures_core::Stream` of messages, usable
    /// from any runtime or polled with `try_next`) to these channels. Dropping it
    /// unsubscribes.
    ///
    /// ```
    /// use futures_core::Stream;
    /// let db = embedis::Db::new();
    /// let sub = db.subscribe(["a", "b"]);
    /// db.publish("b", "1");
    /// let m = sub.try_next().unwrap();
    /// assert_eq!((&m.channel[..], &m.payload[..]), (&b"b"[..], &b"1"[..]));
    /// drop(sub);
    /// assert_eq!(db.publish("b", "2"), 0);
    /// ```
    pub fn subscribe<I, A>(&self, channels: I) -> Subscription
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let broker = self.engine().pubsub().clone();
        Subscription::new(broker, names(channels), Vec::new(), Vec::new())
    }

    /// PSUBSCRIBE in-process: a [`Subscription`] to channels matching these glob patterns
    /// (Redis's syntax: `*`, `?`, `[a-z]`, `\` escapes).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// let sub = db.psubscribe(["alarm.*"]);
    /// db.publish("alarm.fire", "!");
    /// let m = sub.try_next().unwrap();
    /// assert_eq!(m.pattern.as_deref(), Some(&b"alarm.*"[..]));
    /// ```
    pub fn psubscribe<I, A>(&self, patterns: I) -> Subscription
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let broker = self.engine().pubsub().clone();
        Subscription::new(broker, Vec::new(), names(patterns), Vec::new())
    }

    /// SSUBSCRIBE in-process: a [`Subscription`] to shard channels.
    pub fn ssubscribe<I, A>(&self, channels: I) -> Subscription
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let broker = self.engine().pubsub().clone();
        Subscription::new(broker, Vec::new(), Vec::new(), names(channels))
    }

    /// Every keyspace event (all classes but key misses: sets, deletions, expirations,
    /// evictions, new keys...) of every database, as typed [`KeyEvent`]s, whatever
    /// `notify-keyspace-events` says. Dropping the stream stops the events.
    ///
    /// [`KeyEvent`]: crate::pubsub::KeyEvent
    ///
    /// ```
    /// use embedis::pubsub::Event;
    /// let db = embedis::Db::new();
    /// let events = db.keyspace_events();
    /// db.set("k", "v");
    /// db.del(&["k"]);
    /// let seen: Vec<Event> = std::iter::from_fn(|| events.try_next()).map(|e| e.event).collect();
    /// assert_eq!(seen, [Event::New, Event::Set, Event::Del]);
    /// ```
    pub fn keyspace_events(&self) -> KeyEvents {
        self.keyspace_events_for(notify::ALL | notify::NEW)
    }

    /// Keyspace events of the given classes only ([`crate::config::notify`] bits, e.g.
    /// `notify::EXPIRED | notify::EVICTED`).
    pub fn keyspace_events_for(&self, classes: u32) -> KeyEvents {
        KeyEvents::new(self.engine().pubsub().clone(), classes)
    }

    /// PUBSUB CHANNELS: channels with at least one subscriber, matching `pattern` if given.
    pub fn pubsub_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.engine().pubsub().channels(pattern)
    }

    /// PUBSUB NUMSUB for one channel.
    pub fn pubsub_numsub(&self, channel: impl AsRef<[u8]>) -> usize {
        self.engine().pubsub().numsub(channel.as_ref())
    }

    /// PUBSUB NUMPAT.
    pub fn pubsub_numpat(&self) -> usize {
        self.engine().pubsub().numpat()
    }
}
