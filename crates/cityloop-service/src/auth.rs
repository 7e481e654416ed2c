//! Accounts and sessions: argon2 password hashes, random bearer tokens stored only as
//! SHA-256 hashes, expiring sessions, and a login rate limit per account and per client
//! address.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use cityloop_domain::ids::{PersonId, UnitId};
use cityloop_domain::model::{Person, Role};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::{ServiceError, Services};

/// How long a session lasts.
pub const SESSION_TTL_HOURS: i64 = 12;
/// Failed logins allowed per account within the window.
pub const MAX_FAILURES: usize = 5;
/// Failed logins allowed per client address within the window (an office shares one
/// address, so this is looser than the per-account limit).
pub const MAX_FAILURES_PER_ADDRESS: usize = 30;
pub const FAILURE_WINDOW_SECS: i64 = 300;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_USERNAME_CHARS: usize = 64;

/// In-memory login throttle (per process; a restart forgets it, which only loosens it).
#[derive(Default)]
pub struct AuthState {
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl AuthState {
    fn check(&self, keys: &[String], now: DateTime<Utc>) -> Result<(), ServiceError> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let window = Duration::seconds(FAILURE_WINDOW_SECS);
        for k in keys {
            if let Some(q) = map.get_mut(k) {
                while q.front().is_some_and(|t| *t + window <= now) {
                    q.pop_front();
                }
                let max = if k.starts_with("ip:") {
                    MAX_FAILURES_PER_ADDRESS
                } else {
                    MAX_FAILURES
                };
                if q.len() >= max {
                    let oldest = q.front().copied().unwrap_or(now);
                    let wait = (oldest + window - now).num_seconds().max(1);
                    return Err(ServiceError::RateLimited {
                        retry_after_s: wait as u64,
                    });
                }
            }
        }
        Ok(())
    }

    fn fail(&self, keys: &[String], now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            map.entry(k.clone()).or_default().push_back(now);
        }
    }

    fn succeed(&self, user_key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(user_key);
    }
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
    /// Checks credentials and opens a session. `client` is the caller's address.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<Login, ServiceError> {
        let now = self.now();
        let keys = [format!("user:{username}"), format!("ip:{client}")];
        self.auth.check(&keys, now)?;
        let found = match self.store.person_by_username(username).await {
            Ok(found) => Some(found),
            Err(cityloop_store::StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let person = match found {
            Some((p, hash)) if p.active && verify_password(password, &hash) => p,
            _ => {
                self.auth.fail(&keys, now);
                return Err(ServiceError::Unauthorized(
                    "wrong username or password".into(),
                ));
            }
        };
        self.auth.succeed(&keys[0]);
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
        let keys = ["user:a".to_string()];
        let t = Utc::now();
        for _ in 0..MAX_FAILURES {
            assert!(s.check(&keys, t).is_ok());
            s.fail(&keys, t);
        }
        assert!(matches!(
            s.check(&keys, t),
            Err(ServiceError::RateLimited { .. })
        ));
        let later = t + Duration::seconds(FAILURE_WINDOW_SECS + 1);
        assert!(s.check(&keys, later).is_ok());
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
