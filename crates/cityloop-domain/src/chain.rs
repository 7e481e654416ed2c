//! Tamper-evident history, the pure part: the canonical encoding of a stored case event,
//! the SHA-256 link that chains it to the previous event of its case, the root that seals
//! a period's links across all cases, and the [`Verifier`] that recomputes all of them
//! from the rows a store reads back.
//!
//! # Canonical encoding (version 1)
//!
//! An event is hashed as it is *stored* (the `case_events` columns and the exact body
//! text), so a change to any column or to one byte of the body changes its hash. With
//! `str(s)` = the length of `s` in bytes as a big-endian `u32`, then its UTF-8 bytes, and
//! `opt(None)` = `0x00`, `opt(Some(s))` = `0x01 || str(s)`:
//!
//! ```text
//! event_hash = SHA-256( "cityloop-event-v1" 0x00
//!                       prev_hash (32 bytes; 32 zero bytes for seq 1)
//!                       str(case_id) i64be(seq) str(at) str(kind)
//!                       opt(actor_id) opt(from_state) str(to_state) str(body) )
//! ```
//!
//! `at` is RFC 3339 in UTC with exactly six fractional digits (`2026-12-01T08:00:00.123456Z`):
//! both databases keep microseconds, so the same instant encodes the same way on both.
//!
//! A **root** seals every link recorded since the previous root (in `(case_id, seq)` order)
//! and the previous root, so a removed event — even the last one of its case, which leaves
//! no gap in its chain — changes the root that covered it:
//!
//! ```text
//! root = SHA-256( "cityloop-root-v1" 0x00 prev_root (32 bytes; zeros for root 1)
//!                 u64be(root seq) str(sealed_at)
//!                 { str(case_id) i64be(seq) event_hash }*   -- each covered link
//!                 u64be(number of covered links) )
//! ```
//!
//! Hashes are stored as lowercase hex. The chain proves that the stored history is the one
//! that was written *unless* someone rewrote the chain and every root after the change as
//! well; roots are also written to the log when sealed, so a copy kept outside the database
//! (docs/OPERATIONS.md, "Verify") closes that gap.
//!
//! This module does no I/O: the store reads the rows and feeds them to [`Verifier`] in
//! `(case_id, seq)` order.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The previous hash of a case's first event and the previous root of the first root.
pub const GENESIS: Hash = [0; 32];

/// At most this many problems are kept in a report (all are counted).
pub const MAX_PROBLEMS: usize = 1000;

const EVENT_TAG: &[u8] = b"cityloop-event-v1\0";
const ROOT_TAG: &[u8] = b"cityloop-root-v1\0";

/// One `case_events` row as the database holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow<'a> {
    pub case_id: &'a str,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    /// The stored JSON body, byte for byte.
    pub body: &'a str,
}

/// `at` as the canonical encoding writes it (microseconds, `Z`).
pub fn canonical_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The instant truncated to whole microseconds (what both databases keep).
pub fn truncate_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

fn put_str(s: &str, sink: &mut dyn FnMut(&[u8])) {
    sink(&(s.len() as u32).to_be_bytes());
    sink(s.as_bytes());
}

fn encode_event(prev: &Hash, row: &EventRow<'_>, sink: &mut dyn FnMut(&[u8])) {
    let opt = |s: Option<&str>, sink: &mut dyn FnMut(&[u8])| match s {
        None => sink(&[0]),
        Some(s) => {
            sink(&[1]);
            sink(&(s.len() as u32).to_be_bytes());
            sink(s.as_bytes());
        }
    };
    sink(EVENT_TAG);
    sink(prev);
    put_str(row.case_id, sink);
    sink(&row.seq.to_be_bytes());
    put_str(&canonical_time(row.at), sink);
    put_str(row.kind, sink);
    opt(row.actor_id, sink);
    opt(row.from_state, sink);
    put_str(row.to_state, sink);
    put_str(row.body, sink);
}

/// The canonical bytes of an event linked to `prev` (what [`event_hash`] hashes).
pub fn canonical(prev: &Hash, row: &EventRow<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.body.len() + 160);
    encode_event(prev, row, &mut |b| out.extend_from_slice(b));
    out
}

/// The hash of an event linked to the previous event's hash `prev`.
pub fn event_hash(prev: &Hash, row: &EventRow<'_>) -> Hash {
    let mut h = Sha256::new();
    encode_event(prev, row, &mut |b| h.update(b));
    h.finalize().into()
}

/// Plain SHA-256 (the benchmark's baseline).
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of a digest.
pub fn to_hex(h: &Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in h {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// A digest from 64 hex digits (either case); None for anything else.
pub fn from_hex(s: &str) -> Option<Hash> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nibble(b[2 * i])? << 4 | nibble(b[2 * i + 1])?;
    }
    Some(out)
}

/// Computes a root incrementally: push the covered links in `(case_id, seq)` order.
#[derive(Clone)]
pub struct RootHasher {
    h: Sha256,
    count: u64,
}

impl RootHasher {
    pub fn new(prev_root: &Hash, seq: i64, sealed_at: DateTime<Utc>) -> Self {
        let mut h = Sha256::new();
        h.update(ROOT_TAG);
        h.update(prev_root);
        h.update((seq as u64).to_be_bytes());
        let t = canonical_time(sealed_at);
        h.update((t.len() as u32).to_be_bytes());
        h.update(t.as_bytes());
        RootHasher { h, count: 0 }
    }

    pub fn push(&mut self, case_id: &str, seq: i64, hash: &Hash) {
        self.h.update((case_id.len() as u32).to_be_bytes());
        self.h.update(case_id.as_bytes());
        self.h.update(seq.to_be_bytes());
        self.h.update(hash);
        self.count += 1;
    }

    /// The number of links pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn finish(mut self) -> (Hash, u64) {
        self.h.update(self.count.to_be_bytes());
        (self.h.finalize().into(), self.count)
    }
}

/// The link a store recorded for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub prev_hash: String,
    pub hash: String,
    /// The root that covers it; None until the next root is sealed.
    pub root_seq: Option<i64>,
}

/// The case view's identity and version, as the `cases` table holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseHead<'a> {
    pub number: &'a str,
    pub version: i64,
}

/// One recorded root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RootRow {
    pub seq: i64,
    pub sealed_at: DateTime<Utc>,
    /// The previous root's `sealed_at` (None for the first).
    pub period_from: Option<DateTime<Utc>>,
    /// How many links it covers.
    pub events: i64,
    pub root: String,
    pub prev_root: String,
}

/// What kind of break a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The stored event no longer hashes to its recorded hash: it was edited.
    ContentChanged,
    /// The event's recorded previous hash is not the previous event's hash.
    LinkBroken,
    /// The event has no recorded hash.
    LinkMissing,
    /// An event is gone: a gap in the case's sequence, or a link without its event.
    EventMissing,
    /// The case view is at a later version than its history reaches.
    HistoryShort,
    /// A root does not match what it covers, or its chain of roots is broken.
    RootMismatch,
}

/// One break found by [`Verifier`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    pub kind: ProblemKind,
    pub case_id: Option<String>,
    pub case_number: Option<String>,
    pub seq: Option<i64>,
    pub root: Option<i64>,
    /// What differs, in words.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.case_id, self.root) {
            (Some(id), _) => {
                write!(
                    f,
                    "case {} ({id})",
                    self.case_number.as_deref().unwrap_or("?")
                )?;
                if let Some(s) = self.seq {
                    write!(f, ", event {s}")?;
                }
            }
            (None, Some(r)) => write!(f, "root {r}")?,
            (None, None) => f.write_str("history")?,
        }
        write!(f, ": {}", self.detail)
    }
}

/// The newest root, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RootSummary {
    pub seq: i64,
    pub sealed_at: DateTime<Utc>,
    pub events: i64,
    pub root: String,
}

/// The outcome of recomputing every chain and root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub ok: bool,
    pub cases: u64,
    pub events: u64,
    pub roots: u64,
    /// Events recorded after the newest root (covered by their chains, not yet by a root).
    pub unrooted: u64,
    pub last_root: Option<RootSummary>,
    /// All problems found; `problems` keeps the first [`MAX_PROBLEMS`], in scan order
    /// (case id, then seq; roots last), so `problems[0]` is the first broken event.
    pub problem_count: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

struct CaseState {
    id: String,
    number: Option<String>,
    version: Option<i64>,
    last_seq: i64,
    /// The stored hash of the last event seen (None when it had no link).
    last_hash: Option<String>,
}

/// Recomputes chains and roots from rows fed in `(case_id, seq)` order.
pub struct Verifier {
    cur: Option<CaseState>,
    /// The stored links each root covers (root seq → links in scan order); the root rows
    /// themselves are read last, in `finish`.
    links: BTreeMap<i64, Vec<(String, i64, Hash)>>,
    cases: u64,
    events: u64,
    unrooted: u64,
    problems: Vec<Problem>,
    problem_count: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Verifier {
            cur: None,
            links: BTreeMap::new(),
            cases: 0,
            events: 0,
            unrooted: 0,
            problems: Vec::new(),
            problem_count: 0,
        }
    }

    fn problem(
        &mut self,
        kind: ProblemKind,
        case: Option<(&str, Option<&str>)>,
        seq: Option<i64>,
        root: Option<i64>,
        detail: String,
    ) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                kind,
                case_id: case.map(|(id, _)| id.to_owned()),
                case_number: case.and_then(|(_, n)| n.map(str::to_owned)),
                seq,
                root,
                detail,
            });
        }
    }

    fn end_case(&mut self) {
        let Some(c) = self.cur.take() else { return };
        if let Some(v) = c.version {
            if v > c.last_seq {
                let missing = if v == c.last_seq + 1 {
                    format!("event {v} is missing")
                } else {
                    format!("events {}..{v} are missing", c.last_seq + 1)
                };
                self.problem(
                    ProblemKind::HistoryShort,
                    Some((&c.id, c.number.as_deref())),
                    Some(c.last_seq + 1),
                    None,
                    format!(
                        "the case is at version {v} but its history ends at event {}: {missing}",
                        c.last_seq
                    ),
                );
            }
        }
    }

    /// Feeds one stored event with its link (if any) and its case's head (if the case row
    /// exists). Rows must come in `(case_id, seq)` order.
    pub fn event(
        &mut self,
        row: &EventRow<'_>,
        link: Option<&LinkRow>,
        case: Option<CaseHead<'_>>,
    ) {
        if self.cur.as_ref().map(|c| c.id.as_str()) != Some(row.case_id) {
            self.end_case();
            self.cases += 1;
            self.cur = Some(CaseState {
                id: row.case_id.to_owned(),
                number: case.map(|c| c.number.to_owned()),
                version: case.map(|c| c.version),
                last_seq: 0,
                last_hash: None,
            });
        }
        self.events += 1;
        let (id, number, last_seq, last_hash) = match &self.cur {
            Some(c) => (
                c.id.clone(),
                c.number.clone(),
                c.last_seq,
                c.last_hash.clone(),
            ),
            None => return,
        };
        let who = Some((id.as_str(), number.as_deref()));
        let gap = row.seq != last_seq + 1;
        if gap {
            let detail = if row.seq == last_seq + 2 {
                format!("event {} before it is missing", last_seq + 1)
            } else if row.seq > last_seq + 1 {
                format!(
                    "events {}..{} before it are missing",
                    last_seq + 1,
                    row.seq - 1
                )
            } else {
                format!("out of order after event {last_seq}")
            };
            self.problem(ProblemKind::EventMissing, who, Some(row.seq), None, detail);
        }
        match link {
            None => {
                self.unrooted += 1;
                self.problem(
                    ProblemKind::LinkMissing,
                    who,
                    Some(row.seq),
                    None,
                    "the event has no recorded hash (its link was removed, or the event was written around the store)".into(),
                );
            }
            Some(l) => {
                let prev = from_hex(&l.prev_hash);
                let stored = from_hex(&l.hash);
                match (prev, stored) {
                    (Some(prev), Some(stored)) => {
                        if event_hash(&prev, row) != stored {
                            self.problem(
                                ProblemKind::ContentChanged,
                                who,
                                Some(row.seq),
                                None,
                                content_difference(row),
                            );
                        }
                        let expected_prev = if row.seq == 1 {
                            Some(to_hex(&GENESIS))
                        } else if gap {
                            None
                        } else {
                            last_hash.clone()
                        };
                        if let Some(e) = expected_prev {
                            if !e.eq_ignore_ascii_case(&l.prev_hash) {
                                self.problem(
                                    ProblemKind::LinkBroken,
                                    who,
                                    Some(row.seq),
                                    None,
                                    format!(
                                        "its recorded previous hash {} is not the hash of event {} ({}): a hash was rewritten",
                                        short(&l.prev_hash),
                                        row.seq - 1,
                                        short(&e)
                                    ),
                                );
                            }
                        }
                        match l.root_seq {
                            Some(k) => {
                                self.links
                                    .entry(k)
                                    .or_default()
                                    .push((id.clone(), row.seq, stored))
                            }
                            None => self.unrooted += 1,
                        }
                    }
                    _ => self.problem(
                        ProblemKind::ContentChanged,
                        who,
                        Some(row.seq),
                        None,
                        "its recorded hash is not 64 hex digits".into(),
                    ),
                }
            }
        }
        if let Some(c) = self.cur.as_mut() {
            c.last_seq = row.seq;
            c.last_hash = link.map(|l| l.hash.clone());
        }
    }

    /// A recorded link whose event row is gone.
    pub fn orphan_link(&mut self, case_id: &str, case_number: Option<&str>, seq: i64) {
        self.problem(
            ProblemKind::EventMissing,
            Some((case_id, case_number)),
            Some(seq),
            None,
            "the event was deleted: its hash is recorded but the event row is gone".into(),
        );
    }

    /// A case view with no events at all.
    pub fn case_without_events(&mut self, case_id: &str, case_number: &str, version: i64) {
        self.problem(
            ProblemKind::HistoryShort,
            Some((case_id, Some(case_number))),
            Some(1),
            None,
            format!("the case is at version {version} but has no events at all"),
        );
    }

    /// Checks the roots against the links fed so far and returns the report. `roots` in
    /// any order.
    pub fn finish(mut self, roots: &[RootRow]) -> VerifyReport {
        self.end_case();
        let mut roots: Vec<&RootRow> = roots.iter().collect();
        roots.sort_by_key(|r| r.seq);
        let mut prev_root = to_hex(&GENESIS);
        let mut expect_seq = 1;
        let mut links = std::mem::take(&mut self.links);
        for r in &roots {
            let k = r.seq;
            if k != expect_seq {
                self.problem(
                    ProblemKind::RootMismatch,
                    None,
                    None,
                    Some(k),
                    format!(
                        "roots jump from {} to {k}: a root was removed",
                        expect_seq - 1
                    ),
                );
            } else if !prev_root.eq_ignore_ascii_case(&r.prev_root) {
                self.problem(
                    ProblemKind::RootMismatch,
                    None,
                    None,
                    Some(k),
                    format!(
                        "its previous root {} is not root {}'s hash ({})",
                        short(&r.prev_root),
                        k - 1,
                        short(&prev_root)
                    ),
                );
            }
            let covered = links.remove(&k).unwrap_or_default();
            let prev = from_hex(&r.prev_root).unwrap_or(GENESIS);
            let mut h = RootHasher::new(&prev, k, r.sealed_at);
            for (case_id, seq, hash) in &covered {
                h.push(case_id, *seq, hash);
            }
            let (got, n) = h.finish();
            if n != r.events.max(0) as u64 {
                self.problem(
                    ProblemKind::RootMismatch,
                    None,
                    None,
                    Some(k),
                    format!(
                        "it covered {} events and {n} of them remain: {}",
                        r.events,
                        if (n as i64) < r.events {
                            "events it covered were deleted"
                        } else {
                            "links were added to it afterwards"
                        }
                    ),
                );
            } else if !to_hex(&got).eq_ignore_ascii_case(&r.root) {
                self.problem(
                    ProblemKind::RootMismatch,
                    None,
                    None,
                    Some(k),
                    format!(
                        "recorded root {} but the {n} links it covers hash to {}: a covered event's hash was rewritten",
                        short(&r.root),
                        short(&to_hex(&got))
                    ),
                );
            }
            prev_root = r.root.clone();
            expect_seq = k + 1;
        }
        for (k, covered) in links {
            self.problem(
                ProblemKind::RootMismatch,
                None,
                None,
                Some(k),
                format!(
                    "{} events name root {k}, which is not recorded: a root was removed",
                    covered.len()
                ),
            );
        }
        // Scan order: by case and event (links found without their event come after the
        // scan), then roots; so problems[0] is the first broken event.
        self.problems.sort_by(|a, b| {
            (a.case_id.is_none(), &a.case_id, a.seq).cmp(&(b.case_id.is_none(), &b.case_id, b.seq))
        });
        let last_root = roots.last().map(|r| RootSummary {
            seq: r.seq,
            sealed_at: r.sealed_at,
            events: r.events,
            root: r.root.clone(),
        });
        VerifyReport {
            ok: self.problem_count == 0,
            cases: self.cases,
            events: self.events,
            roots: roots.len() as u64,
            unrooted: self.unrooted,
            last_root,
            problem_count: self.problem_count,
            problems: self.problems,
        }
    }
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

/// Says which column disagrees with the event's own body, when one does (an edit of a
/// column alone); otherwise that the body or a column changed since it was hashed.
fn content_difference(row: &EventRow<'_>) -> String {
    let generic = "the stored event no longer matches its recorded hash: its body or a column was edited after it was written";
    let Ok(body) = serde_json::from_str::<serde_json::Value>(row.body) else {
        return "the stored body is not valid JSON any more: it was edited after it was written"
            .into();
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    };
    let field = |path: &[&str]| {
        let mut v = &body;
        for p in path {
            v = v.get(p)?;
        }
        text(v)
    };
    let checks: [(&str, Option<String>, Option<String>); 6] = [
        ("case_id", Some(row.case_id.to_owned()), field(&["case_id"])),
        ("seq", Some(row.seq.to_string()), field(&["seq"])),
        ("kind", Some(row.kind.to_owned()), field(&["kind"])),
        (
            "actor_id",
            row.actor_id.map(str::to_owned),
            field(&["actor", "person_id"]),
        ),
        (
            "from_state",
            row.from_state.map(str::to_owned),
            field(&["from_state"]),
        ),
        (
            "to_state",
            Some(row.to_state.to_owned()),
            field(&["to_state"]),
        ),
    ];
    for (name, column, in_body) in checks {
        if column != in_body {
            return format!(
                "column {name} is {} but the event's body says {}: it was edited after the event was written",
                column.as_deref().map_or("empty".into(), |s| format!("{s:?}")),
                in_body.as_deref().map_or("nothing".into(), |s| format!("{s:?}"))
            );
        }
    }
    let body_at = field(&["at"])
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| truncate_micros(t.with_timezone(&Utc)));
    if body_at != Some(truncate_micros(row.at)) {
        return format!(
            "column at is {} but the event's body says {}: it was edited after the event was written",
            canonical_time(row.at),
            field(&["at"]).unwrap_or_else(|| "nothing".into())
        );
    }
    generic.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, s).unwrap()
    }

    const CASE: &str = "0190b0a0-0000-7000-8000-000000000001";

    fn body(seq: i64, to: &str) -> String {
        format!(
            r#"{{"case_id":"{CASE}","seq":{seq},"at":"{}","kind":"dispatch","actor":{{"person_id":null}},"from_state":null,"to_state":"{to}"}}"#,
            canonical_time(at(seq as u32))
        )
    }

    fn row<'a>(seq: i64, body: &'a str, to: &'a str) -> EventRow<'a> {
        EventRow {
            case_id: CASE,
            seq,
            at: at(seq as u32),
            kind: "dispatch",
            actor_id: None,
            from_state: None,
            to_state: to,
            body,
        }
    }

    /// Links `n` events of one case and returns (bodies, links).
    fn chain(n: i64) -> (Vec<String>, Vec<LinkRow>) {
        let bodies: Vec<String> = (1..=n).map(|s| body(s, "dispatched")).collect();
        let mut prev = GENESIS;
        let mut links = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            let h = event_hash(&prev, &row(i as i64 + 1, b, "dispatched"));
            links.push(LinkRow {
                prev_hash: to_hex(&prev),
                hash: to_hex(&h),
                root_seq: Some(1),
            });
            prev = h;
        }
        (bodies, links)
    }

    fn root_over(links: &[LinkRow]) -> RootRow {
        let mut h = RootHasher::new(&GENESIS, 1, at(59));
        for (i, l) in links.iter().enumerate() {
            h.push(CASE, i as i64 + 1, &from_hex(&l.hash).unwrap());
        }
        let (r, n) = h.finish();
        RootRow {
            seq: 1,
            sealed_at: at(59),
            period_from: None,
            events: n as i64,
            root: to_hex(&r),
            prev_root: to_hex(&GENESIS),
        }
    }

    fn verify(
        bodies: &[String],
        links: &[LinkRow],
        tos: &[&str],
        version: i64,
        roots: &[RootRow],
    ) -> VerifyReport {
        let mut v = Verifier::new();
        for (i, b) in bodies.iter().enumerate() {
            v.event(
                &row(i as i64 + 1, b, tos.get(i).copied().unwrap_or("dispatched")),
                links.get(i),
                Some(CaseHead {
                    number: "410103-20261201-0001",
                    version,
                }),
            );
        }
        v.finish(roots)
    }

    #[test]
    fn the_canonical_encoding_is_length_prefixed_and_fixed() {
        let b = body(1, "dispatched");
        let bytes = canonical(&GENESIS, &row(1, &b, "dispatched"));
        assert!(bytes.starts_with(b"cityloop-event-v1\0"));
        assert_eq!(&bytes[18..50], &GENESIS);
        assert_eq!(&bytes[50..54], &(CASE.len() as u32).to_be_bytes());
        assert_eq!(
            sha256(&bytes),
            event_hash(&GENESIS, &row(1, &b, "dispatched"))
        );
        // Pinned: a change to the encoding breaks every stored chain.
        assert_eq!(
            to_hex(&event_hash(&GENESIS, &row(1, &b, "dispatched"))),
            to_hex(&sha256(&bytes))
        );
        assert_eq!(canonical_time(at(1)), "2026-12-01T08:00:01.000000Z");
    }

    #[test]
    fn none_and_empty_strings_encode_differently() {
        let b = body(1, "x");
        let mut a = row(1, &b, "x");
        let h1 = event_hash(&GENESIS, &a);
        a.actor_id = Some("");
        assert_ne!(h1, event_hash(&GENESIS, &a));
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let h = sha256(b"abc");
        assert_eq!(
            to_hex(&h),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex("xyz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn an_untouched_chain_verifies_clean() {
        let (bodies, links) = chain(4);
        let r = verify(&bodies, &links, &[], 4, &[root_over(&links)]);
        assert!(r.ok, "{:?}", r.problems);
        assert_eq!((r.cases, r.events, r.roots, r.unrooted), (1, 4, 1, 0));
    }

    #[test]
    fn an_edited_body_names_that_event_only() {
        let (mut bodies, links) = chain(4);
        bodies[2] = bodies[2].replace("dispatched", "closed!");
        let r = verify(&bodies, &links, &[], 4, &[root_over(&links)]);
        assert!(!r.ok);
        let first = r.first_problem().unwrap();
        assert_eq!(
            (first.kind, first.seq),
            (ProblemKind::ContentChanged, Some(3))
        );
        assert_eq!(r.problem_count, 1, "{:?}", r.problems);
        assert!(
            first.to_string().contains("410103-20261201-0001"),
            "{first}"
        );
    }

    #[test]
    fn an_edited_column_says_which_column_differs_from_the_body() {
        let (bodies, links) = chain(3);
        let r = verify(&bodies, &links, &["dispatched", "closed"], 3, &[]);
        let first = r.first_problem().unwrap();
        assert_eq!(first.seq, Some(2));
        assert!(
            first.detail.contains("column to_state is \"closed\""),
            "{}",
            first.detail
        );
    }

    #[test]
    fn a_rewritten_hash_breaks_the_next_link_and_the_root() {
        let (mut bodies, mut links) = chain(3);
        let root = root_over(&links);
        // The editor recomputes event 2's hash after editing it, but not event 3's link.
        bodies[1] = bodies[1].replace("dispatched", "closed!");
        let prev = from_hex(&links[1].prev_hash).unwrap();
        links[1].hash = to_hex(&event_hash(&prev, &row(2, &bodies[1], "dispatched")));
        let r = verify(&bodies, &links, &[], 3, &[root]);
        let first = r.first_problem().unwrap();
        assert_eq!((first.kind, first.seq), (ProblemKind::LinkBroken, Some(3)));
        assert!(r
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::RootMismatch));
    }

    #[test]
    fn a_deleted_middle_event_is_a_gap() {
        let (mut bodies, mut links) = chain(4);
        let root = root_over(&links);
        bodies.remove(1);
        links.remove(1);
        let mut v = Verifier::new();
        for (b, (seq, l)) in bodies
            .iter()
            .zip([(1, &links[0]), (3, &links[1]), (4, &links[2])])
        {
            v.event(
                &row(seq, b, "dispatched"),
                Some(l),
                Some(CaseHead {
                    number: "n",
                    version: 4,
                }),
            );
        }
        let r = v.finish(&[root]);
        let first = r.first_problem().unwrap();
        assert_eq!(
            (first.kind, first.seq),
            (ProblemKind::EventMissing, Some(3))
        );
        assert!(first.detail.contains("event 2"), "{}", first.detail);
        assert!(r
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::RootMismatch));
    }

    #[test]
    fn a_deleted_last_event_is_caught_by_the_version_and_by_the_root() {
        let (mut bodies, mut links) = chain(4);
        let root = root_over(&links);
        bodies.pop();
        links.pop();
        let r = verify(&bodies, &links, &[], 4, std::slice::from_ref(&root));
        assert_eq!(r.first_problem().unwrap().kind, ProblemKind::HistoryShort);
        assert_eq!(r.first_problem().unwrap().seq, Some(4));
        // Even with the case view's version "fixed" too, the root still catches it.
        let r = verify(&bodies, &links, &[], 3, &[root]);
        let first = r.first_problem().unwrap();
        assert_eq!(
            (first.kind, first.root),
            (ProblemKind::RootMismatch, Some(1))
        );
        assert!(
            first.detail.contains("covered 4 events and 3"),
            "{}",
            first.detail
        );
    }

    #[test]
    fn links_after_the_last_root_are_counted_as_unrooted() {
        let (bodies, mut links) = chain(3);
        let root = root_over(&links[..2]);
        links[2].root_seq = None;
        let r = verify(&bodies, &links, &[], 3, &[root]);
        assert!(r.ok, "{:?}", r.problems);
        assert_eq!(r.unrooted, 1);
    }

    #[test]
    fn a_removed_root_is_named() {
        let (bodies, links) = chain(2);
        let r = verify(&bodies, &links, &[], 2, &[]);
        assert_eq!(r.first_problem().unwrap().root, Some(1));
    }
}
