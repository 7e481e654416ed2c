//! Accounts and sessions: argon2 password hashes, random bearer tokens stored only as
//! SHA-256 hashes, expiring sessions, and a login throttle per (account, client address).
//!
//! Two properties protect the login against probing:
//! - an unknown or inactive username costs the same as a known one: its password is
//!   verified against a dummy argon2 hash made with the same parameters, so the answer
//!   time does not tell which usernames exist;
//! - failures are counted per account *and* address ([`MAX_FAILURES`] in
//!   [`FAILURE_WINDOW_SECS`], the one rate-limit mechanism of [`crate::ratelimit`]):
//!   many failures for one user from an office's shared address (or a reverse proxy's,
//!   see the trusted-proxy setting) never lock another user's right password, and
//!   someone guessing one account from one address is stopped after five tries.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration as StdDuration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use cityloop_domain::ids::{PersonId, UnitId};
use cityloop_domain::model::{Person, Role};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::ratelimit::{address_key, Limiter, Rate};
use crate::{ServiceError, Services};

/// How long a session lasts.
pub const SESSION_TTL_HOURS: i64 = 12;
/// Failed logins allowed per (account, client address) within the window.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW_SECS: i64 = 300;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_USERNAME_CHARS: usize = 64;

/// In-memory login throttle (per process; a restart forgets it, which only loosens it).
#[derive(Debug)]
pub struct AuthState {
    failures: Limiter,
}

impl Default for AuthState {
    fn default() -> Self {
        // Make the dummy hash now, so the first unknown username is not slower.
        let _ = dummy_hash();
        Self {
            failures: Limiter::new(Some(Rate::new(
                MAX_FAILURES,
                StdDuration::from_secs(FAILURE_WINDOW_SECS as u64),
            ))),
        }
    }
}

impl AuthState {
    fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), ServiceError> {
        self.failures.check(key, now)
    }

    fn fail(&self, key: &str, now: DateTime<Utc>) {
        self.failures.charge(key, now);
    }

    fn succeed(&self, key: &str) {
        self.failures.reset(key);
    }
}

/// The throttle key of one (account, address) pair. Usernames longer than any valid
/// one are cut (they can only fail) so a key stays small.
fn throttle_key(username: &str, client: IpAddr) -> String {
    let name: String = username.chars().take(MAX_USERNAME_CHARS + 1).collect();
    format!("{}|{name}", address_key(client))
}

/// An argon2 hash of a random password, with the parameters of [`hash_password`]: what
/// an unknown username's password is verified against.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut raw = [0u8; 16];
        OsRng.fill_bytes(&mut raw);
        hash_password(&hex(&raw)).unwrap_or_default()
    })
}

/// Verifies `password` against the account's hash, or against the dummy hash when there
/// is no such account: one argon2 verification either way.
fn verify_or_dummy(password: &str, hash: Option<&str>) -> bool {
    let against: &str = match hash {
        Some(h) => h,
        None => dummy_hash(),
    };
    let ok = verify_password(password, against);
    ok && hash.is_some()
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct Login {
    pub token: String,
    pub person: Person,
    pub expires_at: DateTime<Utc>,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: Option<UnitId>,
    pub password: String,
}

impl Services {
    /// Checks credentials and opens a session. `client` is the caller's address (after
    /// the trusted-proxy rule).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Login, ServiceError> {
        let now = self.now();
        let key = throttle_key(username, client);
        self.auth.check(&key, now)?;
        let found = match self.store.person_by_username(username).await {
            Ok(found) => Some(found),
            Err(cityloop_store::StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        // Always one verification, also for unknown and inactive accounts.
        let verified = verify_or_dummy(password, found.as_ref().map(|(_, h)| h.as_str()));
        let person = match found {
            Some((p, _)) if p.active && verified => p,
            _ => {
                self.auth.fail(&key, now);
                return Err(ServiceError::Unauthorized(
                    "wrong username or password".into(),
                ));
            }
        };
        self.auth.succeed(&key);
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token = hex(&raw);
        let expires_at = now + Duration::hours(SESSION_TTL_HOURS);
        self.store
            .create_session(&token_hash(&token), person.id, now, expires_at)
            .await?;
        tracing::info!(person.id = %person.id, person.role = %person.role, "login");
        Ok(Login {
            token,
            person,
            expires_at,
        })
    }

    /// The person behind a bearer token, if the session is live.
    pub async fn authenticate(&self, token: &str) -> Result<Person, ServiceError> {
        let unauthorized = || ServiceError::Unauthorized("invalid or expired token".into());
        if token.is_empty() || token.len() > 128 {
            return Err(unauthorized());
        }
        let s = match self.store.session(&token_hash(token)).await {
            Ok(s) => s,
            Err(cityloop_store::StoreError::NotFound(_)) => return Err(unauthorized()),
            Err(e) => return Err(e.into()),
        };
        if s.expires_at <= self.now() || !s.person.active {
            return Err(unauthorized());
        }
        Ok(s.person)
    }

    /// Ends a session (revokes the token).
    pub async fn logout(&self, token: &str) -> Result<(), ServiceError> {
        self.store.delete_session(&token_hash(token)).await?;
        Ok(())
    }

    /// Creates an account; the password must be at least 8 characters.
    pub async fn add_user(&self, u: NewUser) -> Result<Person, ServiceError> {
        let hash = validate_new_user(&u).and_then(|()| hash_password(&u.password))?;
        self.add_user_with_hash(u, &hash).await
    }

    /// Creates an account with a precomputed hash (the demo loader shares one hash).
    pub async fn add_user_with_hash(&self, u: NewUser, hash: &str) -> Result<Person, ServiceError> {
        if let Some(unit) = u.unit_id {
            self.store
                .get_unit(unit)
                .await
                .map_err(|_| ServiceError::invalid("unit", format!("no unit with id {unit}")))?;
        } else if u.role == Role::Handler {
            return Err(ServiceError::invalid("unit", "a handler belongs to a unit"));
        }
        let person = Person {
            id: PersonId::new_v7(),
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            unit_id: u.unit_id,
            active: true,
        };
        self.store.create_person(&person, hash).await?;
        Ok(person)
    }
}

pub(crate) fn validate_new_user(u: &NewUser) -> Result<(), ServiceError> {
    let name_ok = !u.username.is_empty()
        && u.username.chars().count() <= MAX_USERNAME_CHARS
        && u.username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !name_ok {
        return Err(ServiceError::invalid(
            "username",
            "1 to 64 characters: letters, digits, '.', '_' or '-'",
        ));
    }
    if u.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ServiceError::invalid(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_throttle_blocks_after_five_failures_and_forgets_after_the_window() {
        let s = AuthState::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let key = throttle_key("a", ip);
        let t = Utc::now();
        for _ in 0..MAX_FAILURES {
            assert!(s.check(&key, t).is_ok());
            s.fail(&key, t);
        }
        assert!(matches!(
            s.check(&key, t),
            Err(ServiceError::RateLimited { .. })
        ));
        // Another account from the same address is not affected, nor the same
        // account from another address.
        assert!(s.check(&throttle_key("b", ip), t).is_ok());
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        assert!(s.check(&throttle_key("a", other), t).is_ok());
        let later = t + Duration::seconds(FAILURE_WINDOW_SECS + 1);
        assert!(s.check(&key, later).is_ok());
    }

    #[test]
    fn unknown_users_are_verified_against_a_dummy_hash_with_the_real_parameters() {
        let real = hash_password("correct horse").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        let dummy = PasswordHash::new(dummy_hash()).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(
            format!("{:?}", dummy.params),
            format!("{:?}", real.params),
            "same memory, time and parallelism cost"
        );
        assert!(!verify_or_dummy("anything", None));
        let h = hash_password("correct horse").unwrap();
        assert!(verify_or_dummy("correct horse", Some(&h)));
        assert!(!verify_or_dummy("wrong", Some(&h)));
    }

    #[test]
    fn weak_passwords_and_odd_usernames_are_refused_by_field() {
        let mut u = NewUser {
            username: "ok.name".into(),
            display_name: "x".into(),
            role: Role::Operator,
            unit_id: None,
            password: "short".into(),
        };
        assert!(
            matches!(validate_new_user(&u), Err(ServiceError::Invalid { field, .. }) if field == "password")
        );
        u.password = "long enough".into();
        u.username = "有 空格".into();
        assert!(
            matches!(validate_new_user(&u), Err(ServiceError::Invalid { field, .. }) if field == "username")
        );
    }
}
