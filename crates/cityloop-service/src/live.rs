//! The live push behind `GET /api/v1/stream` (issue 15 item 5): after a case write
//! commits, the service publishes the case view and the notices its event raised on one
//! `tokio::sync::broadcast` channel; each open stream filters it for its person (their
//! own notices; the cases within their read scope).
//!
//! - **Who a stream is for**: the browser's `EventSource` cannot send an `Authorization`
//!   header and the console keeps its session token in `localStorage` (no cookie), so the
//!   console first asks `POST /api/v1/stream/ticket` (Bearer auth) for a **stream ticket**:
//!   random, single use, valid [`TICKET_TTL`], kept in memory only (a restart forgets
//!   tickets; the console asks again). The session token itself never appears in a URL.
//! - **Bounds**: at most [`MAX_STREAMS_PER_PERSON`] open streams per person (a person with
//!   several tabs; the next is refused with 429) and [`MAX_TICKETS`] unredeemed tickets in
//!   all (the oldest are dropped). A stream that falls more than [`CHANNEL_CAPACITY`]
//!   messages behind skips them (the console reloads what it shows on a `lagged` event).
//! - **Shutdown**: [`Live::close`] ends every stream, so a server stopping with open
//!   consoles drains at once instead of waiting out its grace period.
//!
//! Delivery is best effort and after the commit: the stored notifications are the truth
//! (the console reloads its inbox on every notice and polls no faster than every 30 s
//! while the stream is down).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cityloop_domain::case::{Case, Event};
use cityloop_domain::ids::PersonId;
use cityloop_store::Notification;
use rand_core::{OsRng, RngCore};
use tokio::sync::{broadcast, watch};

use crate::Services;

/// Open streams per person (tabs and devices). Invented default.
pub const MAX_STREAMS_PER_PERSON: usize = 4;
/// How long a stream ticket may wait to be redeemed. Invented default.
pub const TICKET_TTL: Duration = Duration::from_secs(60);
/// Unredeemed tickets kept at most (the oldest are forgotten first). Invented default.
pub const MAX_TICKETS: usize = 10_000;
/// Messages a slow stream may fall behind before it skips (broadcast capacity).
/// Invented default.
pub const CHANNEL_CAPACITY: usize = 1024;

/// One message of the live channel.
#[derive(Debug, Clone)]
pub enum LiveMsg {
    /// A case changed (a new case, an event, or its light turned yellow or red), with the
    /// unit it was with before (a case leaving a unit's queue reaches that unit too).
    Case {
        case: Arc<Case>,
        unit_before: Option<cityloop_domain::ids::UnitId>,
    },
    /// A new notification for its person.
    Notice(Arc<Notification>),
}

/// The hub: the channel, the tickets and the open streams per person.
pub struct Live {
    tx: broadcast::Sender<LiveMsg>,
    closed: watch::Sender<bool>,
    tickets: Mutex<HashMap<String, (PersonId, Instant)>>,
    streams: Arc<Mutex<HashMap<PersonId, usize>>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            closed: watch::channel(false).0,
            tickets: Mutex::default(),
            streams: Arc::default(),
        }
    }
}

/// Why a stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamRefused {
    #[error("the stream ticket is unknown, used or expired; ask POST /api/v1/stream/ticket for a new one")]
    BadTicket,
    #[error(
        "at most {} open streams per person; close another tab",
        MAX_STREAMS_PER_PERSON
    )]
    TooMany,
    #[error("the server is shutting down")]
    Closed,
}

/// An open stream's hold on its person's slot; released when dropped.
#[derive(Debug)]
pub struct StreamSlot {
    person: PersonId,
    streams: Arc<Mutex<HashMap<PersonId, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.person) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.person);
            }
        }
    }
}

/// What an opened stream reads: the channel, the shutdown signal and its slot.
pub struct Subscription {
    pub person: PersonId,
    pub rx: broadcast::Receiver<LiveMsg>,
    pub closed: watch::Receiver<bool>,
    pub slot: StreamSlot,
}

impl Live {
    /// Publishes a message to every open stream (none open: dropped).
    pub fn send(&self, msg: LiveMsg) {
        let _ = self.tx.send(msg);
    }

    /// A new single-use stream ticket for `person` and when it expires.
    pub fn issue_ticket(&self, person: PersonId, now: Instant) -> String {
        let mut raw = [0u8; 24];
        OsRng.fill_bytes(&mut raw);
        let ticket: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let mut t = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|_, (_, at)| now.duration_since(*at) < TICKET_TTL);
        while t.len() >= MAX_TICKETS {
            let oldest = t
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => t.remove(&k),
                None => break,
            };
        }
        t.insert(ticket.clone(), (person, now));
        ticket
    }

    /// Redeems a ticket (once) and opens a stream slot for its person.
    pub fn subscribe(&self, ticket: &str, now: Instant) -> Result<Subscription, StreamRefused> {
        if *self.closed.borrow() {
            return Err(StreamRefused::Closed);
        }
        let person = {
            let mut t = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
            match t.remove(ticket) {
                Some((p, at)) if now.duration_since(at) < TICKET_TTL => p,
                _ => return Err(StreamRefused::BadTicket),
            }
        };
        {
            let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(person).or_insert(0);
            if *n >= MAX_STREAMS_PER_PERSON {
                return Err(StreamRefused::TooMany);
            }
            *n += 1;
        }
        Ok(Subscription {
            person,
            rx: self.tx.subscribe(),
            closed: self.closed.subscribe(),
            slot: StreamSlot {
                person,
                streams: self.streams.clone(),
            },
        })
    }

    /// Open streams of a person.
    pub fn open_streams(&self, person: PersonId) -> usize {
        let m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&person).copied().unwrap_or(0)
    }

    /// Ends every open stream and refuses new ones (server shutdown).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

impl Services {
    /// After a committed case write: publishes the case and the notices its event raised
    /// (read back from the notifications projection). Best effort: a failed read is
    /// logged, the stored notices stay the truth.
    pub(crate) async fn publish(
        &self,
        case: &Case,
        unit_before: Option<cityloop_domain::ids::UnitId>,
        event: &Event,
    ) {
        self.live.send(LiveMsg::Case {
            case: Arc::new(case.clone()),
            unit_before,
        });
        if cityloop_domain::inbox::notices(case, event).is_empty() {
            return;
        }
        match self.store.event_notifications(case.id, event.seq).await {
            Ok(notes) => {
                for n in notes {
                    self.live.send(LiveMsg::Notice(Arc::new(n)));
                }
            }
            Err(e) => {
                tracing::warn!(case.id = %case.id, error = %e, "live push: reading the event's notices failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_opens_one_stream_once_and_slots_are_bounded_per_person() {
        let live = Live::default();
        let me = PersonId::new_v7();
        let t0 = Instant::now();
        let t = live.issue_ticket(me, t0);
        let s = live.subscribe(&t, t0).map(|s| s.slot);
        assert!(s.is_ok());
        assert_eq!(
            live.subscribe(&t, t0).err(),
            Some(StreamRefused::BadTicket),
            "single use"
        );
        let mut held = vec![s];
        for _ in 1..MAX_STREAMS_PER_PERSON {
            let t = live.issue_ticket(me, t0);
            held.push(live.subscribe(&t, t0).map(|s| s.slot));
        }
        assert_eq!(live.open_streams(me), MAX_STREAMS_PER_PERSON);
        let t = live.issue_ticket(me, t0);
        assert_eq!(live.subscribe(&t, t0).err(), Some(StreamRefused::TooMany));
        held.pop();
        assert_eq!(live.open_streams(me), MAX_STREAMS_PER_PERSON - 1);
        let t = live.issue_ticket(me, t0);
        assert!(
            live.subscribe(&t, t0).is_ok(),
            "a closed stream frees its slot"
        );
        let late = live.issue_ticket(me, t0);
        assert_eq!(
            live.subscribe(&late, t0 + TICKET_TTL).err(),
            Some(StreamRefused::BadTicket),
            "expired"
        );
        live.close();
        let t = live.issue_ticket(me, t0);
        assert_eq!(live.subscribe(&t, t0).err(), Some(StreamRefused::Closed));
    }
}
