//! In-process subscriptions: [`Subscription`] (channels and patterns) and [`KeyEvents`]
//! (typed keyspace events), both `futures_core::Stream`s that need no particular runtime,
//! both unregistered when dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use super::{Broker, Item, KeyEvent, Listener, Subscriber};

/// Which kind of subscription delivered a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A channel subscription (`message`).
    Message,
    /// A pattern subscription (`pmessage`).
    PMessage,
    /// A shard-channel subscription (`smessage`).
    SMessage,
}

/// A published message, as an in-process subscriber receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How it was matched.
    pub kind: MessageKind,
    /// The pattern that matched, for [`MessageKind::PMessage`].
    pub pattern: Option<Bytes>,
    /// The channel it was published on.
    pub channel: Bytes,
    /// The payload.
    pub payload: Bytes,
}

impl Message {
    fn from_item(item: Item) -> Option<Message> {
        match item {
            Item::Message { channel, payload } => Some(Message {
                kind: MessageKind::Message,
                pattern: None,
                channel,
                payload,
            }),
            Item::PMessage {
                pattern,
                channel,
                payload,
            } => Some(Message {
                kind: MessageKind::PMessage,
                pattern: Some(pattern),
                channel,
                payload,
            }),
            Item::SMessage { channel, payload } => Some(Message {
                kind: MessageKind::SMessage,
                pattern: None,
                channel,
                payload,
            }),
            Item::Ack { .. } => None,
        }
    }
}

/// An in-process subscription to channels, patterns or shard channels, from
/// [`Db::subscribe`](crate::Db::subscribe) and friends. A `Stream` of [`Message`]s; it ends
/// if the subscriber falls behind by more than the pub/sub output-buffer limit
/// ([`Subscription::overflowed`] then says so). Dropping it unsubscribes.
pub struct Subscription {
    broker: Arc<Broker>,
    sub: Arc<Subscriber>,
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
    shard_channels: Vec<Bytes>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channels", &self.channels)
            .field("patterns", &self.patterns)
            .field("shard_channels", &self.shard_channels)
            .finish()
    }
}

fn dedup(names: Vec<Bytes>) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = Vec::with_capacity(names.len());
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

impl Subscription {
    pub(crate) fn new(
        broker: Arc<Broker>,
        channels: Vec<Bytes>,
        patterns: Vec<Bytes>,
        shard_channels: Vec<Bytes>,
    ) -> Subscription {
        let sub = broker.new_subscriber();
        let (channels, patterns, shard_channels) =
            (dedup(channels), dedup(patterns), dedup(shard_channels));
        for c in &channels {
            broker.subscribe_channel(false, c, &sub);
        }
        for p in &patterns {
            broker.subscribe_pattern(p, &sub);
        }
        for c in &shard_channels {
            broker.subscribe_channel(true, c, &sub);
        }
        Subscription {
            broker,
            sub,
            channels,
            patterns,
            shard_channels,
        }
    }

    /// The next message if one is waiting (never blocks).
    pub fn try_next(&self) -> Option<Message> {
        while let Some(item) = self.sub.queue.try_pop() {
            if let Some(m) = Message::from_item(item) {
                return Some(m);
            }
        }
        None
    }

    /// Whether the subscription was cut off for falling behind by more than the pub/sub
    /// output-buffer limit (the stream has ended).
    pub fn overflowed(&self) -> bool {
        self.sub.queue.overflowed()
    }

    /// Messages waiting.
    pub fn pending(&self) -> usize {
        self.sub.queue.len()
    }

    /// The channels subscribed to.
    pub fn channels(&self) -> &[Bytes] {
        &self.channels
    }

    /// The patterns subscribed to.
    pub fn patterns(&self) -> &[Bytes] {
        &self.patterns
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        loop {
            match self.sub.queue.poll_pop(cx) {
                Poll::Ready(Some(item)) => {
                    if let Some(m) = Message::from_item(item) {
                        return Poll::Ready(Some(m));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        for c in &self.channels {
            self.broker.unsubscribe_channel(false, c, &self.sub);
        }
        for p in &self.patterns {
            self.broker.unsubscribe_pattern(p, &self.sub);
        }
        for c in &self.shard_channels {
            self.broker.unsubscribe_channel(true, c, &self.sub);
        }
        self.sub.queue.close();
    }
}

/// A typed stream of keyspace events ([`KeyEvent`]) from
/// [`Db::keyspace_events`](crate::Db::keyspace_events), independent of
/// `notify-keyspace-events`. It ends if the listener falls behind by more than the pub/sub
/// output-buffer limit. Dropping it stops the events.
pub struct KeyEvents {
    broker: Arc<Broker>,
    listener: Arc<Listener>,
}

impl std::fmt::Debug for KeyEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEvents")
            .field("classes", &self.listener.classes)
            .finish()
    }
}

impl KeyEvents {
    pub(crate) fn new(broker: Arc<Broker>, classes: u32) -> KeyEvents {
        let listener = broker.add_listener(classes);
        KeyEvents { broker, listener }
    }

    /// The next event if one is waiting (never blocks).
    pub fn try_next(&self) -> Option<KeyEvent> {
        self.listener.queue.try_pop()
    }

    /// Whether the listener was cut off for falling behind.
    pub fn overflowed(&self) -> bool {
        self.listener.queue.overflowed()
    }

    /// Events waiting.
    pub fn pending(&self) -> usize {
        self.listener.queue.len()
    }
}

impl Stream for KeyEvents {
    type Item = KeyEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<KeyEvent>> {
        self.listener.queue.poll_pop(cx)
    }
}

impl Drop for KeyEvents {
    fn drop(&mut self) {
        self.broker.remove_listener(self.listener.id);
        self.listener.queue.close();
    }
}
