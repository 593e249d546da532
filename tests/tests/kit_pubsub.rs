//! Backend conformance for pub/sub (`Backend::publish` / `Backend::subscribe`), on every
//! backend configuration: embedded, real redis-server, embedis-server.

mod kit_support;

use kit_support::fixture::*;

use std::time::Duration;

use embedis_kit::backend::Backend;

async fn next(s: &mut embedis_kit::backend::Subscriber) -> (Vec<u8>, Vec<u8>) {
    let m = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("a message within 5 s")
        .expect("the subscription is open");
    (m.channel.to_vec(), m.payload.to_vec())
}

mod cases {
    use super::*;

    /// A subscriber gets what is published on its channel after it subscribed, in order, and
    /// nothing from other channels; publish counts receivers; dropping unsubscribes.
    pub async fn publish_reaches_subscribers_in_order(f: &Fixture) {
        let ch = f.key("alarms");
        let other = f.key("other");
        let b = &f.backend;
        assert_eq!(
            b.publish(ch.as_bytes(), b"before").await.unwrap(),
            0,
            "{}",
            f.name
        );
        let mut s1 = b.subscribe(ch.as_bytes()).await.unwrap();
        let mut s2 = b.subscribe(ch.as_bytes()).await.unwrap();
        assert_eq!(
            b.publish(other.as_bytes(), b"x").await.unwrap(),
            0,
            "{}",
            f.name
        );
        for i in 0..20 {
            let p = format!("m{i}");
            assert_eq!(
                b.publish(ch.as_bytes(), p.as_bytes()).await.unwrap(),
                2,
                "{}",
                f.name
            );
        }
        assert_eq!(b.publish(ch.as_bytes(), b"\x00bin\xff").await.unwrap(), 2);
        for s in [&mut s1, &mut s2] {
            for i in 0..20 {
                assert_eq!(
                    next(s).await,
                    (ch.clone().into_bytes(), format!("m{i}").into_bytes())
                );
            }
            assert_eq!(next(s).await.1, b"\x00bin\xff");
        }
        drop(s1);
        // Redis processes the UNSUBSCRIBE of a dropped connection asynchronously.
        let mut n = 2;
        for _ in 0..100 {
            n = b.publish(ch.as_bytes(), b"late").await.unwrap();
            if n == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(n, 1, "{}", f.name);
        assert_eq!(next(&mut s2).await.1, b"late");
    }
}

run_on!(embedded, make_embedded, [cases::publish_reaches_subscribers_in_order => publish_reaches_subscribers_in_order]);
run_on!(real_redis, make_real_redis, [cases::publish_reaches_subscribers_in_order => publish_reaches_subscribers_in_order]);
run_on!(embedis_server, make_embedis_server, [cases::publish_reaches_subscribers_in_order => publish_reaches_subscribers_in_order]);
