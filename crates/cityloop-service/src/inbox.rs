//! The signed-in person's inbox (issue 15 item 5): their notices unread first, the unread
//! count, marking read, the stream ticket, and what one live message means for one open
//! stream ([`Services::stream_item`]): their own notices, and every case change within
//! their read scope (or leaving it).

use std::time::Instant;

use chrono::{DateTime, Utc};
use cityloop_domain::calendar::Light;
use cityloop_domain::model::{Actor, Person};
use cityloop_domain::workflow::ReadScope;
use cityloop_store::{Notification, MAX_INBOX_PAGE};
use serde::Serialize;

use crate::live::{LiveMsg, TICKET_TTL};
use crate::{ServiceError, Services};

/// One page of a person's inbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxPage {
    /// Unread first, then newest first.
    pub items: Vec<Notification>,
    /// The person's unread notifications in all.
    pub unread: i64,
    pub offset: u32,
    pub limit: u32,
}

/// A stream ticket: `GET /api/v1/stream?ticket=…` opens the stream once, before
/// `expires_at`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StreamTicket {
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

/// What an open stream sends for one live message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// `event: notice`: a new notice for the stream's person, with their unread count.
    Notice { notice: Notification, unread: i64 },
    /// `event: case`: a case in (or leaving) the person's read scope changed.
    Case(CaseChange),
}

/// The `event: case` payload (the contract the wall screen reads as well).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CaseChange {
    pub id: String,
    pub number: String,
    pub state: String,
    /// The running stage's light now (`green`, `yellow`, `red`); `null` without a
    /// running clock (closed, voided, suspended cases).
    pub light: Option<Light>,
}

impl Services {
    /// A page of `person`'s inbox (at most [`MAX_INBOX_PAGE`] rows).
    pub async fn inbox(
        &self,
        person: &Person,
        offset: u32,
        limit: u32,
    ) -> Result<InboxPage, ServiceError> {
        if limit == 0 || limit > MAX_INBOX_PAGE {
            return Err(ServiceError::invalid(
                "limit",
                format!("must be from 1 to {MAX_INBOX_PAGE}"),
            ));
        }
        let items = self.store.inbox(person.id, offset, limit).await?;
        let unread = self.store.unread_count(person.id).await?;
        Ok(InboxPage {
            items,
            unread,
            offset,
            limit,
        })
    }

    /// How many of `person`'s notices are unread.
    pub async fn unread_count(&self, person: &Person) -> Result<i64, ServiceError> {
        Ok(self.store.unread_count(person.id).await?)
    }

    /// Marks one notice (`Some`) or all of `person`'s notices read; answers the unread
    /// count after it. Someone else's notice (or none) is not found.
    pub async fn mark_read(
        &self,
        person: &Person,
        id: Option<uuid::Uuid>,
    ) -> Result<i64, ServiceError> {
        if let Some(id) = id {
            if !self.store.has_notification(person.id, id).await? {
                return Err(ServiceError::NotFound(format!("no notification {id}")));
            }
        }
        self.store.mark_read(person.id, id, self.now()).await?;
        Ok(self.store.unread_count(person.id).await?)
    }

    /// A single-use ticket that opens one live stream for `person`.
    pub fn stream_ticket(&self, person: &Person) -> StreamTicket {
        let ticket = self.live.issue_ticket(person.id, Instant::now());
        let ttl = chrono::Duration::from_std(TICKET_TTL).unwrap_or(chrono::Duration::seconds(60));
        StreamTicket {
            ticket,
            expires_at: self.now() + ttl,
        }
    }

    /// The read scope a stream filters case changes with (fixed when it opens).
    pub fn stream_scope(&self, person: &Person) -> Result<ReadScope, ServiceError> {
        self.read_scope(&Actor::staff(person))
    }

    /// What one live message means for the stream of `person` (None: nothing for them).
    pub async fn stream_item(
        &self,
        person: &Person,
        scope: &ReadScope,
        msg: &LiveMsg,
    ) -> Result<Option<StreamItem>, ServiceError> {
        match msg {
            LiveMsg::Notice(n) if n.person_id == person.id => Ok(Some(StreamItem::Notice {
                notice: (**n).clone(),
                unread: self.store.unread_count(person.id).await?,
            })),
            LiveMsg::Notice(_) => Ok(None),
            LiveMsg::Case { case, unit_before } => {
                let street = case.routing.street_code.as_deref();
                if !scope.admits(case.unit_id, street) && !scope.admits(*unit_before, street) {
                    return Ok(None);
                }
                Ok(Some(StreamItem::Case(CaseChange {
                    id: case.id.to_string(),
                    number: case.number.to_string(),
                    state: case.state.as_str().to_owned(),
                    light: case
                        .clock
                        .as_ref()
                        .filter(|c| !c.is_paused())
                        .map(|c| c.light(&self.calendar(), self.now())),
                })))
            }
        }
    }
}
