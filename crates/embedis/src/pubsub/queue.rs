//! A subscriber's queue of pending pushes, bounded in bytes like Redis's client output buffer
//! for pub/sub clients (`client-output-buffer-limit pubsub <hard> <soft> <seconds>`).
//!
//! Publishers append; the one consumer (a connection, or an in-process stream) takes. A
//! subscriber that does not keep up is cut off the way Redis cuts off a slow client: once its
//! pending bytes reach the hard limit, or stay at or above the soft limit for more than the
//! soft seconds, the queue is emptied (its memory freed at once) and closed for good; the
//! consumer sees the end of the stream and the connection closes. Publishers never wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// Bytes a queued item stands for: what it costs in an output buffer once encoded.
pub trait Weigh {
    /// Encoded size in bytes.
    fn weight(&self) -> usize;
}

/// One `client-output-buffer-limit` class: hard and soft limits in bytes (0 = none) and how
/// long the soft limit may be exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimit {
    /// Disconnect at once at this many pending bytes (0: no hard limit).
    pub hard: u64,
    /// Disconnect when this many pending bytes last longer than `soft_seconds` (0: none).
    pub soft: u64,
    /// Seconds the soft limit may be exceeded.
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// Redis's default for pub/sub clients: `32mb 8mb 60`.
    pub const PUBSUB_DEFAULT: OutputLimit = OutputLimit {
        hard: 32 * 1024 * 1024,
        soft: 8 * 1024 * 1024,
        soft_seconds: 60,
    };

    /// No limit at all (Redis's default for normal clients).
    pub const NONE: OutputLimit = OutputLimit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    };
}

/// What happened to a pushed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// It is queued.
    Queued,
    /// It made the queue pass its limit: the queue was emptied and closed.
    Overflowed,
    /// The queue was already closed; the item was dropped.
    Closed,
}

struct State<T> {
    items: VecDeque<T>,
    bytes: u64,
    /// Unix ms when the soft limit was first seen exceeded (Redis's
    /// `obuf_soft_limit_reached_time`).
    soft_since_ms: Option<u64>,
    waker: Option<Waker>,
    overflowed: bool,
    closed: bool,
}

/// A single-consumer queue bounded by [`OutputLimit`].
pub struct Queue<T> {
    state: Mutex<State<T>>,
    /// Whether items may be waiting: lets the consumer skip the lock on its hot path (a
    /// connection checks after every command). Set under the lock by pushes.
    maybe_items: AtomicBool,
    /// Mirrors `State::overflowed`, readable without the lock.
    overflowed: AtomicBool,
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock();
        f.debug_struct("Queue")
            .field("items", &s.items.len())
            .field("bytes", &s.bytes)
            .field("overflowed", &s.overflowed)
            .finish()
    }
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                bytes: 0,
                soft_since_ms: None,
                waker: None,
                overflowed: false,
                closed: false,
            }),
            maybe_items: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
        }
    }
}

impl<T: Weigh> Queue<T> {
    /// Appends `item` unless the queue is closed, then applies `limit` as Redis's
    /// `checkClientOutputBufferLimits` does after each reply: hard limit reached, or soft
    /// limit reached for more than `soft_seconds` (time from `now_ms`).
    pub fn push(&self, item: T, limit: OutputLimit, now_ms: u64) -> Pushed {
        let weight = item.weight() as u64;
        let (outcome, waker) = {
            let mut s = self.state.lock();
            if s.closed || s.overflowed {
                return Pushed::Closed;
            }
            s.items.push_back(item);
            s.bytes += weight;
            self.maybe_items.store(true, Ordering::Release);
            let outcome = if over_limit(&mut s, limit, now_ms) {
                s.overflowed = true;
                self.overflowed.store(true, Ordering::Release);
                s.items = VecDeque::new();
                s.bytes = 0;
                Pushed::Overflowed
            } else {
                Pushed::Queued
            };
            (outcome, s.waker.take())
        };
        if let Some(w) = waker {
            w.wake();
        }
        outcome
    }

    /// Takes the next item, or registers `cx` to be woken when one arrives. `Ready(None)`
    /// once the queue is closed (or overflowed) and empty.
    pub fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.state.lock();
        if let Some(item) = s.items.pop_front() {
            s.bytes -= item.weight() as u64;
            return Poll::Ready(Some(item));
        }
        if s.closed || s.overflowed {
            return Poll::Ready(None);
        }
        store_waker(&mut s.waker, cx);
        Poll::Pending
    }

    /// Ready when an item is queued or the queue is closed; registers `cx` otherwise.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.state.lock();
        if !s.items.is_empty() || s.closed || s.overflowed {
            return Poll::Ready(());
        }
        store_waker(&mut s.waker, cx);
        Poll::Pending
    }

    /// Ready once the queue overflowed; registers `cx` otherwise (woken by every push, so a
    /// consumer busy writing notices a cut-off at once).
    pub fn poll_overflowed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.state.lock();
        if s.overflowed {
            return Poll::Ready(());
        }
        store_waker(&mut s.waker, cx);
        Poll::Pending
    }

    /// Takes the next item if there is one.
    pub fn try_pop(&self) -> Option<T> {
        let mut s = self.state.lock();
        let item = s.items.pop_front()?;
        s.bytes -= item.weight() as u64;
        Some(item)
    }

    /// Takes queued items, oldest first, until about `max_bytes` were taken (at least one).
    pub fn drain(&self, max_bytes: usize, mut f: impl FnMut(T)) -> usize {
        if !self.maybe_items.load(Ordering::Acquire) {
            return 0;
        }
        let mut taken = 0;
        let mut s = self.state.lock();
        while taken < max_bytes.max(1) {
            let Some(item) = s.items.pop_front() else {
                break;
            };
            let w = item.weight();
            s.bytes -= w as u64;
            taken += w;
            f(item);
        }
        if s.items.is_empty() {
            self.maybe_items.store(false, Ordering::Release);
        }
        taken
    }

    /// Whether the queue was cut off for passing its limit.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Pending bytes.
    pub fn bytes(&self) -> u64 {
        self.state.lock().bytes
    }

    /// Pending items.
    pub fn len(&self) -> usize {
        self.state.lock().items.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops accepting items and wakes the consumer (its subscriptions are gone).
    pub fn close(&self) {
        let waker = {
            let mut s = self.state.lock();
            s.closed = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn store_waker(slot: &mut Option<Waker>, cx: &mut Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

fn over_limit<T>(s: &mut State<T>, limit: OutputLimit, now_ms: u64) -> bool {
    let used = s.bytes;
    let hard = limit.hard > 0 && used >= limit.hard;
    let mut soft = limit.soft > 0 && used >= limit.soft;
    if soft {
        match s.soft_since_ms {
            None => {
                s.soft_since_ms = Some(now_ms);
                soft = false;
            }
            Some(since) => {
                // Redis compares whole seconds of its cached unix time.
                let elapsed = (now_ms / 1000).saturating_sub(since / 1000);
                if elapsed <= limit.soft_seconds {
                    soft = false;
                }
            }
        }
    } else {
        s.soft_since_ms = None;
    }
    hard || soft
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(usize);
    impl Weigh for Blob {
        fn weight(&self) -> usize {
            self.0
        }
    }

    const LIMIT: OutputLimit = OutputLimit {
        hard: 100,
        soft: 50,
        soft_seconds: 2,
    };

    #[test]
    fn hard_limit_cuts_off_and_frees() {
        let q = Queue::default();
        assert_eq!(q.push(Blob(60), LIMIT, 0), Pushed::Queued);
        assert_eq!(q.push(Blob(39), LIMIT, 0), Pushed::Queued);
        assert_eq!(q.bytes(), 99);
        assert_eq!(q.push(Blob(1), LIMIT, 0), Pushed::Overflowed);
        assert!(q.overflowed());
        assert_eq!((q.bytes(), q.len()), (0, 0));
        assert_eq!(q.push(Blob(1), LIMIT, 0), Pushed::Closed);
    }

    #[test]
    fn soft_limit_needs_more_than_the_seconds() {
        let q = Queue::default();
        assert_eq!(q.push(Blob(50), LIMIT, 10_000), Pushed::Queued);
        assert_eq!(q.push(Blob(1), LIMIT, 12_999), Pushed::Queued);
        assert_eq!(q.push(Blob(1), LIMIT, 13_000), Pushed::Overflowed);
    }

    #[test]
    fn soft_timer_resets_below_the_limit() {
        let q = Queue::default();
        q.push(Blob(50), LIMIT, 0);
        q.try_pop();
        // Below the soft limit at the next check: the timer restarts.
        q.push(Blob(10), LIMIT, 1_000);
        q.push(Blob(45), LIMIT, 5_000);
        assert_eq!(q.push(Blob(1), LIMIT, 7_000), Pushed::Queued);
        assert_eq!(q.push(Blob(1), LIMIT, 8_000), Pushed::Overflowed);
    }

    #[test]
    fn no_limit_and_drain() {
        let q = Queue::default();
        for _ in 0..1000 {
            assert_eq!(q.push(Blob(1000), OutputLimit::NONE, 0), Pushed::Queued);
        }
        let mut n = 0;
        assert_eq!(q.drain(10_500, |_| n += 1), 11_000);
        assert_eq!(n, 11);
        assert_eq!(q.len(), 989);
    }
}
