//! Session stores: where "who is this visitor" lives between requests.
//!
//! The talk moves sessions three times, and so does this workspace:
//! - [`SqliteSessions`] (stage-1, stage-2): a row in the `sessions` table,
//!   read on every request and its last-seen time written back, as CherryPy's
//!   database sessions did — "sessions in the database" is a listed problem.
//! - [`MemorySessions`] (stage-3): in the instance's own memory, the talk's
//!   "prefer an in-memory session store"; nginx routes a visitor back to the
//!   instance that holds their session (the id carries the instance's tag).
//! - memcached (stage-4, in that crate): any instance serves any visitor.
//!
//! Session ids are 128 random bits from a CSPRNG (`rand`'s thread RNG, a
//! ChaCha generator seeded from the OS), hex-encoded, optionally prefixed by
//! an instance tag such as `i0-`. A new id is issued at every login, so a
//! planted id is never promoted to a logged-in session (no fixation).

use std::collections::HashMap;
use std::sync::Mutex;

use model::SessionUser;
use rusqlite::Connection;

use crate::cache::{PageAddr, PageCache};
use crate::error::AppResult;

/// Name of the session cookie.
pub const COOKIE: &str = "sid";

/// How long a session lives without a new login (a day, a typical 2007
/// "remember me for today"). Configurable through `Config::session_ttl`.
pub const DEFAULT_TTL_SECS: i64 = 24 * 3600;

/// Where sessions live. Methods take `&self`: stores synchronise inside.
pub trait SessionStore {
    /// The visitor behind session `id`, if it is live; marks it as seen.
    fn load(&self, id: &str, now: i64) -> AppResult<Option<SessionUser>>;
    /// [`SessionStore::load`], and the data behind `page` from `cache`
    /// when the visitor is logged in and the cache keeps data for them —
    /// in one exchange where the store shares its server with the cache
    /// (stage-4: one memcached multi-get instead of two round trips). The
    /// data is `None` on a miss or when it was not asked for.
    fn load_with_page_data(
        &self,
        id: &str,
        now: i64,
        page: Option<&PageAddr>,
        cache: &dyn PageCache,
    ) -> AppResult<(Option<SessionUser>, Option<Vec<u8>>)> {
        let user = self.load(id, now)?;
        let data = match page {
            Some(p) if user.is_some() && cache.caches_data_for(true) => cache.get_data(p),
            _ => None,
        };
        Ok((user, data))
    }
    /// Stores a new session for `user` and returns its id.
    fn create(&self, user: &SessionUser, now: i64, ttl: i64) -> AppResult<String>;
    /// Ends session `id` (logout). Deleting an unknown id is not an error.
    fn delete(&self, id: &str) -> AppResult<()>;
}

/// A fresh session id: `prefix` + 32 hex digits (128 bits).
pub fn new_id(prefix: &str) -> String {
    let bits: u128 = rand::random();
    format!("{prefix}{bits:032x}")
}

/// Whether `tag` may prefix session ids (`i0` → `i0-…`): 1 to 16 lower-case
/// letters and digits, so every id stays [`plausible_id`]. Instance tags
/// follow this rule (they also become nginx upstream names and patterns in
/// stage-3's configuration, which is why nothing else is allowed).
pub fn valid_tag(tag: &str) -> bool {
    (1..=16).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether a cookie value could be one of our ids (anything else is ignored
/// without touching a store).
pub fn plausible_id(s: &str) -> bool {
    (32..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-')
}

/// Sessions in the `sessions` table of the site's database.
#[derive(Debug)]
pub struct SqliteSessions<'c> {
    pub conn: &'c Connection,
}

impl SessionStore for SqliteSessions<'_> {
    fn load(&self, id: &str, now: i64) -> AppResult<Option<SessionUser>> {
        let user = model::queries::sessions::get(self.conn, id, now)?;
        if user.is_some() {
            // The write-back CherryPy did on every request: the lesson's cost.
            model::queries::sessions::touch(self.conn, id, now)?;
        }
        Ok(user)
    }

    fn create(&self, user: &SessionUser, now: i64, ttl: i64) -> AppResult<String> {
        let id = new_id("");
        model::queries::sessions::put(self.conn, &id, user.user_id, now, now + ttl)?;
        Ok(id)
    }

    fn delete(&self, id: &str) -> AppResult<()> {
        Ok(model::queries::sessions::delete(self.conn, id)?)
    }
}

#[derive(Debug)]
struct MemSession {
    user: SessionUser,
    expires_at: i64,
}

/// Sessions in this process's memory (stage-3). Lost when the process exits:
/// the trade-off the README states and stage-4 removes.
#[derive(Debug, Default)]
pub struct MemorySessions {
    tag: String,
    map: Mutex<HashMap<String, MemSession>>,
}

impl MemorySessions {
    /// `tag` prefixes every id (`i0-…`) so nginx can route the visitor back here.
    pub fn new(tag: &str) -> Self {
        MemorySessions {
            tag: tag.to_owned(),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemSession>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionStore for MemorySessions {
    fn load(&self, id: &str, now: i64) -> AppResult<Option<SessionUser>> {
        let mut map = self.map();
        match map.get(id) {
            Some(s) if s.expires_at > now => Ok(Some(s.user.clone())),
            Some(_) => {
                map.remove(id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn create(&self, user: &SessionUser, now: i64, ttl: i64) -> AppResult<String> {
        let id = new_id(&self.tag);
        let mut map = self.map();
        // Sweep expired sessions now and then, so memory stays bounded by
        // the sessions of the last TTL.
        if map.len() % 1024 == 1023 {
            map.retain(|_, s| s.expires_at > now);
        }
        map.insert(
            id.clone(),
            MemSession {
                user: user.clone(),
                expires_at: now + ttl,
            },
        );
        Ok(id)
    }

    fn delete(&self, id: &str) -> AppResult<()> {
        self.map().remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let a = new_id("i1-");
        assert!(a.starts_with("i1-") && a.len() == 35 && plausible_id(&a));
        assert_ne!(new_id(""), new_id(""));
        assert!(!plausible_id("short"));
        assert!(!plausible_id("' OR 1=1 -- aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    }

    #[test]
    fn memory_store_expires_and_deletes() {
        let s = MemorySessions::new("i0-");
        let u = SessionUser {
            user_id: 1,
            username: "user1".into(),
            display_name: "A".into(),
        };
        let id = s.create(&u, 100, 10).unwrap();
        assert_eq!(s.load(&id, 105).unwrap(), Some(u.clone()));
        assert_eq!(s.load(&id, 111).unwrap(), None, "expired");
        let id = s.create(&u, 100, 10).unwrap();
        s.delete(&id).unwrap();
        assert_eq!(s.load(&id, 101).unwrap(), None);
    }
}
