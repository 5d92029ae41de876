//! Sessions in memcached: the app's `SessionStore` seam.

use std::sync::Arc;

use app::{AppError, AppResult, PageAddr, PageCache, SessionStore};
use model::SessionUser;

use super::Memcached;
use crate::keys;

/// A session as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    user: SessionUser,
    expires_at: i64,
}

/// Sessions in memcached: any instance serves any visitor, and losing an
/// instance logs nobody out. Losing memcached does (documented).
#[derive(Debug)]
pub struct McSessions {
    pub mc: Arc<Memcached>,
}

impl McSessions {
    /// The visitor in a stored session, if it is live (an expired or
    /// unreadable one is deleted).
    fn live(&self, id: &str, bytes: Option<Vec<u8>>, now: i64) -> Option<SessionUser> {
        match serde_json::from_slice::<Stored>(&bytes?) {
            Ok(s) if s.expires_at > now => Some(s.user),
            _ => {
                self.mc.delete(&keys::session(id));
                None
            }
        }
    }
}

impl SessionStore for McSessions {
    fn load(&self, id: &str, now: i64) -> AppResult<Option<SessionUser>> {
        Ok(self.live(id, self.mc.get(&keys::session(id)), now))
    }

    /// The session and the data behind `page` in one multi-get (one
    /// exchange per server; one in all with a single memcached): a
    /// logged-in visitor's request costs one round trip, not two.
    fn load_with_page_data(
        &self,
        id: &str,
        now: i64,
        page: Option<&PageAddr>,
        cache: &dyn PageCache,
    ) -> AppResult<(Option<SessionUser>, Option<Vec<u8>>)> {
        let data_key = page.filter(|_| cache.caches_data_for(true)).map(keys::data);
        let session_key = keys::session(id);
        let mut keys: Vec<&str> = vec![&session_key];
        keys.extend(data_key.as_deref());
        let mut got = self.mc.get_many(&keys).into_iter();
        let user = self.live(id, got.next().flatten(), now);
        let data = got.next().flatten().filter(|_| user.is_some());
        Ok((user, data))
    }

    fn create(&self, user: &SessionUser, now: i64, ttl: i64) -> AppResult<String> {
        let id = app::sessions::new_id("");
        let stored = Stored {
            user: user.clone(),
            expires_at: now + ttl,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| AppError::Internal(e.to_string()))?;
        let secs = u32::try_from(ttl.clamp(1, i64::from(u32::MAX))).unwrap_or(u32::MAX);
        if self.mc.set(&keys::session(&id), &bytes, secs) {
            Ok(id)
        } else {
            Err(AppError::Busy(
                "the session store (memcached) is unavailable".into(),
            ))
        }
    }

    fn delete(&self, id: &str) -> AppResult<()> {
        if !self.mc.delete(&keys::session(id)) {
            // The session expires on its own; the cookie is cleared anyway.
            tracing::warn!("could not delete a session in memcached");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> McSessions {
        McSessions {
            mc: Arc::new(Memcached::new(&["127.0.0.1:1".into()], 2).unwrap()),
        }
    }

    fn stored(expires_at: i64) -> Vec<u8> {
        serde_json::to_vec(&Stored {
            user: SessionUser {
                user_id: 3,
                username: "user3".into(),
                display_name: "User 3".into(),
            },
            expires_at,
        })
        .unwrap()
    }

    #[test]
    fn a_live_session_is_read_back_and_an_expired_or_garbled_one_is_not() {
        let s = down();
        let user = s.live("abc", Some(stored(100)), 99).unwrap();
        assert_eq!((user.user_id, user.username.as_str()), (3, "user3"));
        assert!(s.live("abc", Some(stored(100)), 100).is_none());
        assert!(s.live("abc", Some(b"not json".to_vec()), 0).is_none());
        assert!(s.live("abc", None, 0).is_none());
    }

    #[test]
    fn memcached_down_is_no_session_and_a_login_is_busy() {
        let s = down();
        assert!(s.load("abc", 0).unwrap().is_none());
        let user = SessionUser {
            user_id: 1,
            username: "user1".into(),
            display_name: "User 1".into(),
        };
        assert!(matches!(s.create(&user, 0, 60), Err(AppError::Busy(_))));
        assert!(s.delete("abc").is_ok(), "a logout never fails");
    }
}
