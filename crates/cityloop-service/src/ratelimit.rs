//! The one rate-limit mechanism: a keyed GCRA (generic cell rate algorithm, the
//! token bucket without a timer) used by the Open311 intake (per API key and per client
//! address), the public photo upload (per client address) and the login throttle (failed
//! attempts per account and address), and the one-time codes of "my reports" (codes sent
//! per phone and per client address).
//!
//! A [`Rate`] of `N/PERIOD` lets a key spend `N` requests at once and then one every
//! `PERIOD / N`: never more than `N` in any window of `PERIOD`. Each key keeps one
//! instant (its theoretical arrival time), so the state is a small map; at most
//! [`MAX_KEYS`] keys are remembered, and keys whose bucket is full again are forgotten
//! first (forgetting a full bucket changes nothing). When every remembered key is still
//! limited, a new key is refused for a second rather than growing the map.
//!
//! Addresses are keyed by [`address_key`]: an IPv4 address as it is, an IPv6 address by
//! its /64 (one subscriber's prefix), an IPv4-mapped IPv6 address as the IPv4 one.
//!
//! Time comes from the caller (the services' clock), so tests drive it explicitly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ServiceError;

/// Keys one limiter remembers at most (memory bound).
pub const MAX_KEYS: usize = 100_000;

/// At most `burst` events in any `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub period: Duration,
}

impl Rate {
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }

    /// `N/PERIOD`, e.g. `30/10m`, `600/1m`, `5/300s` (units ms, s, m, h); `off` is no
    /// limit (`None`).
    pub fn parse(s: &str) -> Result<Option<Rate>, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || format!("{s:?}: expected N/PERIOD such as 30/10m (units ms, s, m, h), or off");
        let (n, p) = t.split_once('/').ok_or_else(bad)?;
        let burst: u32 = n.trim().parse().map_err(|_| bad())?;
        let period = cityloop_domain::webhook::parse_duration(p.trim()).map_err(|_| bad())?;
        if burst == 0 || period.is_zero() || period > Duration::from_secs(7 * 86_400) {
            return Err(format!(
                "{s:?}: N must be at least 1 and PERIOD from 1 ms to 7 days"
            ));
        }
        Ok(Some(Rate { burst, period }))
    }

    /// The time one event costs, in microseconds.
    fn interval_us(self) -> i64 {
        let p = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        (p / i64::from(self.burst)).max(1)
    }

    /// How far ahead of now a key's arrival time may run before it is refused.
    fn tolerance_us(self) -> i64 {
        let p = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        p - self.interval_us()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.burst, self.period.as_secs_f64())
    }
}

/// A keyed GCRA limiter; `None` rate admits everything.
#[derive(Debug)]
pub struct Limiter {
    rate: Option<Rate>,
    /// Key → theoretical arrival time (µs since the epoch).
    tat: Mutex<HashMap<String, i64>>,
}

impl Limiter {
    pub fn new(rate: Option<Rate>) -> Self {
        Self {
            rate,
            tat: Mutex::new(HashMap::new()),
        }
    }

    pub fn rate(&self) -> Option<Rate> {
        self.rate
    }

    /// Spends one event of `key`, or says how many seconds to wait.
    pub fn admit(&self, key: &str, now: DateTime<Utc>) -> Result<(), ServiceError> {
        self.step(key, now, true)
    }

    /// Whether `key` could spend an event now, without spending it.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), ServiceError> {
        self.step(key, now, false)
    }

    /// Spends one event of `key` even past the limit (a failure that already happened).
    pub fn charge(&self, key: &str, now: DateTime<Utc>) {
        let Some(rate) = self.rate else { return };
        let now_us = now.timestamp_micros();
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) && !make_room(&mut map, now_us) {
            return;
        }
        let tat = map.entry(key.to_owned()).or_insert(now_us);
        *tat = (*tat).max(now_us).saturating_add(rate.interval_us());
    }

    /// Forgets `key` (a successful login clears its failures).
    pub fn reset(&self, key: &str) {
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }

    fn step(&self, key: &str, now: DateTime<Utc>, spend: bool) -> Result<(), ServiceError> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let now_us = now.timestamp_micros();
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let tat = match map.get(key) {
            Some(t) => (*t).max(now_us),
            None => {
                if spend && !make_room(&mut map, now_us) {
                    return Err(ServiceError::RateLimited { retry_after_s: 1 });
                }
                now_us
            }
        };
        let ahead = tat - now_us;
        if ahead > rate.tolerance_us() {
            let wait_us = ahead - rate.tolerance_us();
            return Err(ServiceError::RateLimited {
                retry_after_s: u64::try_from((wait_us + 999_999) / 1_000_000)
                    .unwrap_or(1)
                    .max(1),
            });
        }
        if spend {
            map.insert(key.to_owned(), tat.saturating_add(rate.interval_us()));
        }
        Ok(())
    }
}

/// Makes room for one more key: forgets keys whose bucket is full again. False when the
/// map is still full.
fn make_room(map: &mut HashMap<String, i64>, now_us: i64) -> bool {
    if map.len() < MAX_KEYS {
        return true;
    }
    map.retain(|_, tat| *tat > now_us);
    map.len() < MAX_KEYS
}

/// The limiter key of a client address (see the module comment).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The configured public rates (docs/API-DESIGN.md, "Limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    /// Open311 `POST requests` per API key (per client application).
    pub open311_per_key: Option<Rate>,
    /// Open311 `POST requests` per client address.
    pub open311_per_address: Option<Rate>,
    /// `POST /api/v1/public/media` per client address.
    pub upload_per_address: Option<Rate>,
    /// `GET /api/v1/public/cases/{ref}` (the case page by query code or number) per client
    /// address: it bounds how fast one address can guess codes.
    pub lookup_per_address: Option<Rate>,
    /// One-time codes of "my reports" sent to one phone.
    pub code_per_phone: Option<Rate>,
    /// One-time codes asked for from one client address.
    pub code_per_address: Option<Rate>,
}

/// Invented defaults (no standard prescribes them): a client application may post 600
/// reports a minute; one address 30 reports and 30 photos in any 10 minutes, and 60 case-page
/// lookups a minute; one phone is sent 3 one-time codes in any 10 minutes, and one address
/// may ask for 10 codes in any hour.
impl Default for RateConfig {
    fn default() -> Self {
        Self {
            open311_per_key: Some(Rate::new(600, Duration::from_secs(60))),
            open311_per_address: Some(Rate::new(30, Duration::from_secs(600))),
            upload_per_address: Some(Rate::new(30, Duration::from_secs(600))),
            lookup_per_address: Some(Rate::new(60, Duration::from_secs(60))),
            code_per_phone: Some(Rate::new(3, Duration::from_secs(600))),
            code_per_address: Some(Rate::new(10, Duration::from_secs(3600))),
        }
    }
}

/// The public limiters of one process.
#[derive(Debug)]
pub struct RateLimits {
    pub config: RateConfig,
    open311_key: Limiter,
    open311_address: Limiter,
    upload_address: Limiter,
    lookup_address: Limiter,
    code_phone: Limiter,
    code_address: Limiter,
}

impl RateLimits {
    pub fn new(config: RateConfig) -> Self {
        Self {
            config,
            open311_key: Limiter::new(config.open311_per_key),
            open311_address: Limiter::new(config.open311_per_address),
            upload_address: Limiter::new(config.upload_per_address),
            lookup_address: Limiter::new(config.lookup_per_address),
            code_phone: Limiter::new(config.code_per_phone),
            code_address: Limiter::new(config.code_per_address),
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(RateConfig::default())
    }
}

impl crate::Services {
    /// Replaces the public rate limits (the binary reads them from its flags).
    pub fn with_rate_limits(mut self, config: RateConfig) -> Self {
        self.rate = std::sync::Arc::new(RateLimits::new(config));
        self
    }

    /// Refuses an Open311 POST from `client` when the address is past its rate (checked
    /// before the body is read; only accepted reports are counted, see
    /// [`Services::count_open311_report`]).
    pub fn check_open311_address(&self, client: IpAddr) -> Result<(), ServiceError> {
        self.rate
            .open311_address
            .check(&address_key(client), self.now())
    }

    /// Refuses an Open311 POST made with `api_key` (already checked to be valid, so the
    /// table holds at most one entry per issued key) when the key is past its rate.
    pub fn check_open311_key(&self, api_key: &str) -> Result<(), ServiceError> {
        self.rate
            .open311_key
            .check(&crate::open311::key_hash(api_key.trim()), self.now())
    }

    /// Counts one accepted (new) Open311 report against its address and its key.
    pub fn count_open311_report(&self, client: IpAddr, api_key: &str) {
        let now = self.now();
        self.rate.open311_address.charge(&address_key(client), now);
        self.rate
            .open311_key
            .charge(&crate::open311::key_hash(api_key.trim()), now);
    }

    /// Counts one public photo upload from `client`.
    pub fn admit_public_upload(&self, client: IpAddr) -> Result<(), ServiceError> {
        self.rate
            .upload_address
            .admit(&address_key(client), self.now())
    }

    /// Counts one case-page lookup from `client`.
    pub fn admit_public_lookup(&self, client: IpAddr) -> Result<(), ServiceError> {
        self.rate
            .lookup_address
            .admit(&address_key(client), self.now())
    }

    /// Spends one one-time code of `client` and of `phone` (its digits), or refuses
    /// (429): the address is checked first so one address cannot use up a phone's codes
    /// beyond its own limit.
    pub fn admit_code(&self, client: IpAddr, phone: &str) -> Result<(), ServiceError> {
        let now = self.now();
        self.rate.code_address.check(&address_key(client), now)?;
        self.rate.code_phone.admit(phone, now)?;
        self.rate.code_address.admit(&address_key(client), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration as Td;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_burst_of_n_passes_then_one_per_interval() {
        let l = Limiter::new(Some(Rate::new(3, Duration::from_secs(60))));
        for _ in 0..3 {
            assert!(l.admit("a", t0()).is_ok());
        }
        match l.admit("a", t0()) {
            Err(ServiceError::RateLimited { retry_after_s }) => assert_eq!(retry_after_s, 20),
            other => panic!("{other:?}"),
        }
        // Another key has its own bucket.
        assert!(l.admit("b", t0()).is_ok());
        // One interval later exactly one more passes.
        let later = t0() + Td::seconds(20);
        assert!(l.admit("a", later).is_ok());
        assert!(l.admit("a", later).is_err());
        // After a whole period the burst is back.
        let much_later = later + Td::seconds(60);
        for _ in 0..3 {
            assert!(l.admit("a", much_later).is_ok());
        }
    }

    #[test]
    fn check_does_not_spend_and_charge_spends_past_the_limit() {
        let l = Limiter::new(Some(Rate::new(2, Duration::from_secs(10))));
        assert!(l.check("k", t0()).is_ok());
        l.charge("k", t0());
        l.charge("k", t0());
        assert!(l.check("k", t0()).is_err());
        l.charge("k", t0());
        l.reset("k");
        assert!(l.check("k", t0()).is_ok());
    }

    #[test]
    fn no_rate_admits_everything() {
        let l = Limiter::new(None);
        for _ in 0..10_000 {
            assert!(l.admit("a", t0()).is_ok());
        }
    }

    #[test]
    fn rates_parse_as_n_per_period_or_off() {
        assert_eq!(
            Rate::parse("30/10m").unwrap(),
            Some(Rate::new(30, Duration::from_secs(600)))
        );
        assert_eq!(Rate::parse("off").unwrap(), None);
        for bad in ["", "30", "0/1m", "x/1m", "3/0s", "3/1y", "5/30d"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let m: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(address_key(m), "203.0.113.7");
    }

    #[test]
    fn a_full_table_forgets_full_buckets_first() {
        let l = Limiter::new(Some(Rate::new(1, Duration::from_secs(1))));
        {
            let mut map = l.tat.lock().unwrap();
            for i in 0..MAX_KEYS {
                map.insert(format!("k{i}"), t0().timestamp_micros());
            }
        }
        // Every remembered bucket is full again at t0: room is made.
        assert!(l.admit("new", t0()).is_ok());
        assert!(l.tat.lock().unwrap().len() <= 2);
    }
}
