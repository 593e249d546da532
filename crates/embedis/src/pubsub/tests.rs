//! Broker, in-process subscriptions and keyspace event streams.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_core::Stream;

use super::*;
use crate::{Db, ManualClock};

fn db() -> Db {
    Db::builder().active_expiry(false).seed(3).build()
}

/// Wakes a parked thread: enough of an executor to poll a `Stream` without a runtime.
struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn next_blocking<S: Stream + Unpin>(s: &mut S, timeout: Duration) -> Option<S::Item> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match Pin::new(&mut *s).poll_next(&mut cx) {
            Poll::Ready(x) => return x,
            Poll::Pending => {
                let now = std::time::Instant::now();
                assert!(now < deadline, "no item within {timeout:?}");
                std::thread::park_timeout(deadline - now);
            }
        }
    }
}

#[test]
fn channels_patterns_and_counts() {
    let db = db();
    let a = db.subscribe(["news", "sport"]);
    let p = db.psubscribe(["n*", "x"]);
    let s = db.ssubscribe(["shard"]);
    assert_eq!(db.publish("news", "1"), 2);
    assert_eq!(db.publish("nothing", "2"), 1);
    assert_eq!(db.publish("other", "3"), 0);
    assert_eq!(db.spublish("shard", "4"), 1);
    assert_eq!(db.publish("shard", "5"), 0);
    let m = a.try_next().unwrap();
    assert_eq!(
        (m.kind, &m.channel[..], &m.payload[..]),
        (MessageKind::Message, &b"news"[..], &b"1"[..])
    );
    assert!(a.try_next().is_none());
    let m = p.try_next().unwrap();
    assert_eq!(m.kind, MessageKind::PMessage);
    assert_eq!(m.pattern.as_deref(), Some(&b"n*"[..]));
    assert_eq!(&p.try_next().unwrap().payload[..], b"2");
    let m = s.try_next().unwrap();
    assert_eq!((m.kind, &m.payload[..]), (MessageKind::SMessage, &b"4"[..]));

    let broker = db.engine().pubsub();
    let mut chans = broker.channels(None);
    chans.sort();
    assert_eq!(chans, vec![Bytes::from("news"), Bytes::from("sport")]);
    assert_eq!(broker.channels(Some(b"s*")), vec![Bytes::from("sport")]);
    assert_eq!(broker.numsub(b"news"), 1);
    assert_eq!(broker.numpat(), 2);
    assert_eq!(broker.shard_channels(None), vec![Bytes::from("shard")]);
    drop((a, p, s));
    assert_eq!(
        broker.channel_count() + broker.numpat() + broker.shard_channel_count(),
        0
    );
}

#[test]
fn patterns_match_like_redis() {
    let db = db();
    let cases: &[(&[u8], &[u8], bool)] = &[
        (b"h?llo", b"hello", true),
        (b"h[ae]llo", b"hallo", true),
        (b"h[^e]llo", b"hello", false),
        (b"h[a-b]llo", b"hbllo", true),
        (b"a\\*b", b"a*b", true),
        (b"a\\*b", b"axb", false),
        (b"*", b"", false),
        (b"[", b"x", false),
        (b"__keyspace@0__:*", b"__keyspace@0__:k", true),
    ];
    for (pattern, channel, matched) in cases {
        let sub = db.psubscribe([pattern]);
        assert_eq!(
            db.publish(channel, "m") == 1,
            *matched,
            "{pattern:?} {channel:?}"
        );
        drop(sub);
    }
}

#[test]
fn stream_delivers_across_threads_and_drop_unregisters_mid_stream() {
    let db = db();
    let mut sub = db.subscribe(["c"]);
    let publisher = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut sent = 0;
            // Keeps publishing until nobody listens any more.
            loop {
                if db.publish("c", sent.to_string()) == 0 && sent > 100 {
                    return sent;
                }
                sent += 1;
                if sent > 10_000_000 {
                    return sent;
                }
            }
        })
    };
    for i in 0..100 {
        let m = next_blocking(&mut sub, Duration::from_secs(10)).unwrap();
        assert_eq!(m.payload, Bytes::from(i.to_string()), "in publish order");
    }
    drop(sub);
    let sent = publisher.join().unwrap();
    assert!(sent > 100);
    let broker = db.engine().pubsub();
    assert_eq!(broker.numsub(b"c"), 0);
    assert_eq!(broker.channel_count(), 0);
}

#[test]
fn per_publisher_order_with_concurrent_publishers() {
    let db = db();
    let sub = db.subscribe(["c"]);
    let psub = db.psubscribe(["*"]);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    db.publish("c", format!("{t}:{i}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for s in [&sub, &psub] {
        let mut next = [0; 4];
        let mut n = 0;
        while let Some(m) = s.try_next() {
            let text = String::from_utf8(m.payload.to_vec()).unwrap();
            let (t, i) = text.split_once(':').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(next[t], i, "publisher {t} out of order");
            next[t] += 1;
            n += 1;
        }
        assert_eq!(n, 8000);
    }
}

#[test]
fn slow_subscriber_is_cut_off_while_the_publisher_goes_on() {
    let db = db();
    db.config_set(&[("client-output-buffer-limit", "pubsub 10kb 0 0")])
        .unwrap();
    let slow = db.subscribe(["c"]);
    let fast = db.subscribe(["c"]);
    let payload = vec![b'x'; 100];
    let mut delivered_to_slow = 0;
    for _ in 0..1000 {
        let n = db.publish("c", &payload);
        if n == 2 && !slow.overflowed() {
            delivered_to_slow += 1;
        }
        while fast.try_next().is_some() {}
    }
    assert!(slow.overflowed());
    assert!(!fast.overflowed());
    // Cut off at the limit: about 10 KiB of ~130-byte messages, then nothing is kept.
    assert!(
        (70..=90).contains(&delivered_to_slow),
        "{delivered_to_slow}"
    );
    assert_eq!(slow.pending(), 0);
    assert_eq!(db.engine().pubsub().limit_disconnections.get(), 1);
    // Redis 7.0's INFO has no field for it (7.2 added one).
    assert!(
        !db.info("stats")
            .contains("client_output_buffer_limit_disconnections")
    );
    // The stream has ended.
    let mut slow = slow;
    assert!(next_blocking(&mut slow, Duration::from_secs(1)).is_none());
}

#[test]
fn soft_limit_uses_the_engine_clock() {
    let clock = ManualClock::new();
    let db = Db::builder()
        .clock(clock.clone())
        .active_expiry(false)
        .build();
    db.config_set(&[("client-output-buffer-limit", "pubsub 0 1kb 5")])
        .unwrap();
    let sub = db.subscribe(["c"]);
    for _ in 0..20 {
        db.publish("c", [0u8; 100]);
    }
    clock.advance(Duration::from_secs(5));
    db.publish("c", "x");
    assert!(!sub.overflowed(), "not more than 5 seconds yet");
    clock.advance(Duration::from_secs(1));
    db.publish("c", "x");
    assert!(sub.overflowed());
}

#[test]
fn keyspace_events_typed_stream() {
    let clock = ManualClock::new();
    let db = Db::builder()
        .clock(clock.clone())
        .active_expiry(false)
        .build();
    let broker = db.engine().pubsub().clone();
    assert_eq!(
        broker.wanted_classes(),
        0,
        "nobody listens: commands skip events"
    );
    let events = db.keyspace_events();
    db.call(["SET", "k", "v", "PX", "100"]);
    db.call(["SET", "lazy", "v", "PX", "100"]);
    db.call(["DEL", "k"]);
    db.call(["SET", "k2", "v", "PX", "50"]);
    clock.advance(Duration::from_millis(101));
    assert_eq!(db.call(["GET", "lazy"]), crate::Reply::Nil);
    db.run_active_expiry();
    let got: Vec<(Event, String)> = std::iter::from_fn(|| events.try_next())
        .map(|e| (e.event, String::from_utf8_lossy(&e.key).into_owned()))
        .collect();
    let want: Vec<(Event, String)> = [
        (Event::New, "k"),
        (Event::Set, "k"),
        (Event::Expire, "k"),
        (Event::New, "lazy"),
        (Event::Set, "lazy"),
        (Event::Expire, "lazy"),
        (Event::Del, "k"),
        (Event::New, "k2"),
        (Event::Set, "k2"),
        (Event::Expire, "k2"),
        (Event::Expired, "lazy"),
        (Event::Expired, "k2"),
    ]
    .into_iter()
    .map(|(e, k)| (e, k.to_string()))
    .collect();
    assert_eq!(got, want);
    drop(events);
    assert_eq!(broker.listener_count(), 0);
    assert_eq!(broker.wanted_classes(), 0);
}

#[test]
fn keyspace_events_filtered_and_in_other_databases() {
    let db = db();
    let expired = db.keyspace_events_for(crate::config::notify::GENERIC);
    let db3 = db.select(3).unwrap();
    db3.call(["SET", "a", "1"]);
    db3.call(["EXPIRE", "a", "100"]);
    db3.call(["MOVE", "a", "0"]);
    let got: Vec<(usize, Event)> = std::iter::from_fn(|| expired.try_next())
        .map(|e| (e.db, e.event))
        .collect();
    assert_eq!(
        got,
        vec![(3, Event::Expire), (3, Event::MoveFrom), (0, Event::MoveTo)]
    );
}

#[test]
fn notifications_are_published_as_configured() {
    let db = db();
    let sub = db.psubscribe(["__key*__:*"]);
    db.call(["SET", "quiet", "1"]);
    assert!(sub.try_next().is_none(), "off by default");
    db.config_set(&[("notify-keyspace-events", "KEA")]).unwrap();
    db.call(["SET", "k", "v"]);
    let got: Vec<(String, String)> = std::iter::from_fn(|| sub.try_next())
        .map(|m| {
            (
                String::from_utf8_lossy(&m.channel).into_owned(),
                String::from_utf8_lossy(&m.payload).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("__keyspace@0__:k".into(), "set".into()),
            ("__keyevent@0__:set".into(), "k".into())
        ]
    );
    // E alone with a class: only keyevent; a class alone: nothing.
    db.config_set(&[("notify-keyspace-events", "E$")]).unwrap();
    db.call(["SET", "k", "v"]);
    assert_eq!(&sub.try_next().unwrap().channel[..], b"__keyevent@0__:set");
    assert!(sub.try_next().is_none());
    db.config_set(&[("notify-keyspace-events", "g$")]).unwrap();
    db.call(["SET", "k", "v"]);
    assert!(sub.try_next().is_none());
    assert_eq!(db.engine().pubsub().wanted_classes(), 0);
    // Key misses and new keys only with their letters.
    db.config_set(&[("notify-keyspace-events", "Emn")]).unwrap();
    db.call(["GET", "missing"]);
    db.call(["SET", "fresh", "v"]);
    let names: Vec<Bytes> = std::iter::from_fn(|| sub.try_next())
        .map(|m| m.channel)
        .collect();
    assert_eq!(
        names,
        vec![
            Bytes::from("__keyevent@0__:keymiss"),
            Bytes::from("__keyevent@0__:new")
        ]
    );
}

#[test]
fn item_weights_are_encoded_sizes() {
    let m = Item::Message {
        channel: Bytes::from("ch"),
        payload: Bytes::from("hello"),
    };
    // *3\r\n $7\r\nmessage\r\n $2\r\nch\r\n $5\r\nhello\r\n
    assert_eq!(m.weight(), 4 + 13 + 8 + 11);
    let p = Item::PMessage {
        pattern: Bytes::from("c*"),
        channel: Bytes::from("ch"),
        payload: Bytes::new(),
    };
    assert_eq!(p.weight(), 4 + 14 + 8 + 8 + 6);
}

#[test]
fn evictions_are_reported() {
    let db = db();
    db.config_set(&[
        ("maxmemory-policy", "allkeys-random"),
        ("notify-keyspace-events", "Ee"),
    ])
    .unwrap();
    let events = db.keyspace_events_for(crate::config::notify::EVICTED);
    let channel = db.subscribe(["__keyevent@0__:evicted"]);
    let used: u64 = db
        .info("memory")
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    db.config_set(&[("maxmemory", &(used + 200_000).to_string())])
        .unwrap();
    for i in 0..5000 {
        db.call(["SET", &format!("key:{i}"), &"x".repeat(100)]);
    }
    let evicted: u64 = db
        .info("stats")
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(evicted > 0);
    let typed: Vec<KeyEvent> = std::iter::from_fn(|| events.try_next()).collect();
    assert_eq!(typed.len() as u64, evicted);
    assert!(typed.iter().all(|e| e.event == Event::Evicted && e.db == 0));
    let published = std::iter::from_fn(|| channel.try_next()).count() as u64;
    assert_eq!(published, evicted);
    // The evicted keys are gone.
    for e in typed.iter().take(10) {
        assert_eq!(db.call([&b"EXISTS"[..], &e.key]), crate::Reply::Int(0));
    }
}
