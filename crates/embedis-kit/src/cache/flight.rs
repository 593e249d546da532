//! In-process single-flight: at most one load per key at a time in this process; callers
//! that arrive meanwhile wait for the leader's outcome and share it.
//!
//! The outcome is type-erased (`Arc<dyn Any>`) so one map serves every value type; a
//! waiter whose type does not match (the same key read as two types) loads on its own.
//! If the leader is dropped before finishing (its task cancelled), its guard removes the
//! flight and the waiters see the channel close and try again.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

/// A finished load, shared by the waiters.
pub(crate) type Outcome = Arc<dyn Any + Send + Sync>;

type Slot = watch::Receiver<Option<Outcome>>;

/// The loads in progress in this process, by storage key.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<Vec<u8>, Slot>>,
}

/// What [`Flights::join`] made the caller.
pub(crate) enum Role {
    /// Nobody was loading this key: the caller loads and must [`Leader::finish`].
    Leader(Leader),
    /// Someone is: wait for their outcome.
    Waiter(Slot),
}

/// The one caller loading a key; removes the flight when finished or dropped.
pub(crate) struct Leader {
    flights: Arc<Flights>,
    key: Vec<u8>,
    tx: watch::Sender<Option<Outcome>>,
}

impl Flights {
    /// Becomes the leader for `key`, or a waiter on the current leader.
    pub(crate) fn join(self: &Arc<Self>, key: &[u8]) -> Role {
        let mut map = self.map.lock();
        if let Some(rx) = map.get(key) {
            return Role::Waiter(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_vec(), rx);
        Role::Leader(Leader {
            flights: self.clone(),
            key: key.to_vec(),
            tx,
        })
    }

    /// How many loads are in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }
}

impl Leader {
    /// Publishes the outcome to the waiters and ends the flight.
    pub(crate) fn finish(self, outcome: Outcome) {
        self.tx.send_replace(Some(outcome));
        // Drop removes the map entry.
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock();
        if map
            .get(&self.key)
            .is_some_and(|rx| rx.same_channel(&self.tx.subscribe()))
        {
            map.remove(&self.key);
        }
    }
}

/// Waits for the leader; `None` if it went away without an outcome.
pub(crate) async fn wait(mut rx: Slot) -> Option<Outcome> {
    let done = match rx.wait_for(Option::is_some).await {
        Ok(v) => v.clone(),
        Err(_) => None,
    };
    // The sender may have published and gone away before this waiter looked.
    done.or_else(|| rx.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_many_waiters_and_cleanup() {
        let f = Arc::new(Flights::default());
        let Role::Leader(leader) = f.join(b"k") else {
            panic!("first caller leads")
        };
        let Role::Waiter(w) = f.join(b"k") else {
            panic!("second caller waits")
        };
        let waiter = tokio::spawn(wait(w));
        leader.finish(Arc::new(7u32));
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.downcast_ref::<u32>(), Some(&7));
        assert_eq!(f.len(), 0);
        // A dropped leader releases its waiters with no outcome.
        let Role::Leader(leader) = f.join(b"k") else {
            panic!()
        };
        let Role::Waiter(w) = f.join(b"k") else {
            panic!()
        };
        drop(leader);
        assert!(wait(w).await.is_none());
        assert_eq!(f.len(), 0);
    }
}
