//! How many requests one registry is sent at once. Wide open until the registry says it is
//! too much: a `429 Too Many Requests` halves the requests in flight (at least one), and the
//! limit grows back by one after every [`RAISE_AFTER`] answers in a row without a 429, so a
//! throttled pack slows down instead of failing and speeds up again when the registry lets
//! it. A `RateLimit-Remaining` header (Docker Hub's pull quota) that runs low drops to one
//! request at a time before the quota is gone. Each change of pace is said once.

use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Requests at once before any 429: more than any `--jobs` sends.
const WIDEST: usize = 64;
/// Answers without a 429 before the limit grows by one.
const RAISE_AFTER: usize = 20;
/// A quota this low (requests left) means one request at a time.
const LOW_QUOTA: u64 = 10;

/// The pace for one registry; shared by all its requests.
pub struct Limiter {
    slots: Semaphore,
    state: Mutex<State>,
}

struct State {
    limit: usize,
    /// Slots to take back as requests in flight finish (the limit fell below them).
    owed: usize,
    /// Answers since the last 429.
    calm: usize,
    said_throttled: bool,
    said_quota: bool,
}

/// A slot for one request; given back (or taken away, when the limit fell) on drop.
pub struct Slot<'a> {
    limiter: &'a Limiter,
    permit: Option<SemaphorePermit<'a>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut st = self.limiter.lock();
        if st.owed > 0 {
            st.owed -= 1;
            if let Some(p) = self.permit.take() {
                p.forget();
            }
        }
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            slots: Semaphore::new(WIDEST),
            state: Mutex::new(State {
                limit: WIDEST,
                owed: 0,
                calm: 0,
                said_throttled: false,
                said_quota: false,
            }),
        }
    }
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot. Hold it while the request is sent and answered.
    pub async fn slot(&self) -> Slot<'_> {
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = self.slots.acquire().await.ok();
        Slot {
            limiter: self,
            permit,
        }
    }

    /// Lowers the limit to `to` (at least 1), taking slots back as they come free.
    fn lower(&self, st: &mut State, to: usize) {
        let to = to.max(1);
        if to >= st.limit {
            return;
        }
        let drop_n = st.limit - to;
        let forgotten = self.slots.forget_permits(drop_n);
        st.owed += drop_n - forgotten;
        st.limit = to;
    }

    /// A 429 from `registry`: halve what is in flight.
    pub fn throttled(&self, registry: &str) {
        let mut st = self.lock();
        st.calm = 0;
        // Slots out = the limit plus those owed back, less the free ones.
        let in_flight = (st.limit + st.owed).saturating_sub(self.slots.available_permits());
        let to = (in_flight.max(1) / 2).max(1);
        self.lower(&mut st, to);
        if !st.said_throttled {
            st.said_throttled = true;
            let limit = st.limit;
            drop(st);
            crate::output::note(&format!(
                "`{registry}` answered 429 Too Many Requests: sending {limit} request(s) at a time, raised again slowly while it allows"
            ));
        }
    }

    /// An answer that was not a 429: after enough of them, one more slot.
    pub fn answered(&self, registry: &str, remaining: Option<&str>) {
        let mut st = self.lock();
        if let Some(left) = remaining.and_then(quota_left).filter(|l| *l <= LOW_QUOTA) {
            self.lower(&mut st, 1);
            st.calm = 0;
            if !st.said_quota {
                st.said_quota = true;
                drop(st);
                crate::output::note(&format!(
                    "`{registry}` allows {left} more request(s) in its rate-limit window (RateLimit-Remaining): one request at a time from now on; when it runs out, each 429 is waited out as the registry asks"
                ));
            }
            return;
        }
        st.calm += 1;
        if st.calm >= RAISE_AFTER && st.limit < WIDEST {
            st.calm = 0;
            st.limit += 1;
            if st.owed > 0 {
                st.owed -= 1;
            } else {
                self.slots.add_permits(1);
            }
        }
    }
}

/// Requests left in a `RateLimit-Remaining` value (`76;w=21600`, or a bare number).
fn quota_left(header: &str) -> Option<u64> {
    header.split(';').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_429_halves_what_is_in_flight_and_calm_answers_raise_it_slowly() {
        let l = Limiter::default();
        let held: Vec<_> = futures_util::future::join_all((0..8).map(|_| l.slot())).await;
        l.throttled("r");
        assert_eq!(l.lock().limit, 4);
        drop(held);
        // Four of the eight slots were owed back: four remain.
        assert_eq!(l.slots.available_permits(), 4);
        let _a = l.slot().await;
        l.throttled("r");
        assert_eq!(l.lock().limit, 1);
        for _ in 0..RAISE_AFTER - 1 {
            l.answered("r", None);
        }
        assert_eq!(l.lock().limit, 1);
        l.answered("r", None);
        assert_eq!(l.lock().limit, 2);
        l.answered("r", Some("3;w=21600"));
        assert_eq!(l.lock().limit, 1);
        assert_eq!(quota_left("76;w=21600"), Some(76));
        assert_eq!(quota_left("x"), None);
    }
}
