//! In-process subscriptions used from an async runtime (tokio here; the streams need none in
//! particular): messages published from other threads wake the task, and a subscriber whose
//! task is dropped mid-stream leaves no registration behind.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use embedis::Db;
use embedis::pubsub::{Event, MessageKind};
use futures_core::Stream;

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_wake_a_waiting_task_in_order() {
    let db = Db::new();
    let mut sub = db.psubscribe(["alarm.*"]);
    let publisher = {
        let db = db.clone();
        std::thread::spawn(move || {
            for i in 0..1000 {
                db.publish(format!("alarm.{}", i % 3), i.to_string());
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    for i in 0..1000 {
        let m = tokio::time::timeout(Duration::from_secs(10), next(&mut sub))
            .await
            .expect("a message in time")
            .expect("stream open");
        assert_eq!(m.kind, MessageKind::PMessage);
        assert_eq!(m.payload, i.to_string().as_bytes());
    }
    publisher.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_dropped_mid_stream_leaves_no_registration() {
    let db = Db::new();
    let sub = db.subscribe(["feed"]);
    let events = db.keyspace_events();
    let task = tokio::spawn(async move {
        let mut sub = sub;
        let mut events = events;
        let mut seen = 0;
        while let Some(_m) = next(&mut sub).await {
            seen += 1;
            let _ = next(&mut events).await;
        }
        seen
    });
    for i in 0..50 {
        db.set(format!("k{i}"), "v");
        db.publish("feed", "x");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The task is waiting inside the stream when it is dropped.
    task.abort();
    let _ = task.await;
    let broker = db.engine().pubsub();
    assert_eq!(broker.numsub(b"feed"), 0);
    assert_eq!(broker.channel_count(), 0);
    assert_eq!(broker.listener_count(), 0);
    assert_eq!(broker.wanted_classes(), 0);
    assert_eq!(db.publish("feed", "x"), 0);
}

#[tokio::test]
async fn expired_keys_reach_a_typed_stream() {
    let db = Db::new();
    let mut expired = db.keyspace_events_for(embedis::config::notify::EXPIRED);
    db.call(["SET", "session:1", "v", "PX", "30"]);
    // Nobody reads the key: the active expiry thread removes it.
    let e = tokio::time::timeout(Duration::from_secs(5), next(&mut expired))
        .await
        .expect("expired in time")
        .unwrap();
    assert_eq!(
        (e.db, e.event, &e.key[..]),
        (0, Event::Expired, &b"session:1"[..])
    );
}
