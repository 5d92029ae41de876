//! Salted password hashes, and the password every seeded user has.
//!
//! Format: `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX` (PBKDF2-HMAC-SHA256,
//! 16-byte salt, 32-byte hash). The iteration count is stored in each hash,
//! so [`verify`] always pays exactly the cost the hash was made with, and a
//! deployment can raise the cost for new passwords without touching old ones.
//!
//! Why the seeded cost is low ([`SEED_ITERATIONS`]): the seeding tool must
//! hash 100,000 passwords inside its 5-second budget on 2 cores, and the load
//! generator's logged-in virtual users log in during benchmarks. A real site
//! would use OWASP's 600,000 iterations (about 0.25 s per hash here): 100k
//! users would then take 7 hours to seed. The *scheme* is the real one (a
//! per-user salt, a slow keyed hash, a constant-time comparison); only the
//! work factor is turned down, and `seed --hash-iterations` turns it up.

use hmac::Hmac;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Work factor of the seeded hashes: 64 PBKDF2 rounds, about 25 µs a hash
/// here, 2.5 s of CPU for 100k users spread over both cores while SQLite
/// inserts. See the module docs for why it is this low.
pub const SEED_ITERATIONS: u32 = 64;

/// Work factor for passwords set at run time (none yet: there is no sign-up
/// page), kept beside the seeded one so the difference is explicit.
pub const DEFAULT_ITERATIONS: u32 = 64;

/// The password of a seeded user: `pw-` followed by the username
/// (`user42` logs in with `pw-user42`). The load generator relies on it.
pub fn seeded_password(username: &str) -> String {
    format!("pw-{username}")
}

/// Hashes `password` with the given salt and work factor.
pub fn hash_with_salt(password: &str, salt: &[u8; 16], iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), salt, iterations.max(1), &mut out)
        .expect("HMAC accepts keys of any length");
    format!(
        "pbkdf2-sha256${}${}${}",
        iterations.max(1),
        hex(salt),
        hex(&out)
    )
}

/// Hashes `password` with a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    hash_with_salt(password, &salt, DEFAULT_ITERATIONS)
}

/// Checks `password` against a stored hash in constant time. A malformed
/// stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iters), Some(salt), Some(want), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iters), Some(salt), Some(want)) = (iters.parse::<u32>(), unhex(salt), unhex(want))
    else {
        return false;
    };
    if iters == 0 || iters > 10_000_000 || want.len() != 32 {
        return false;
    }
    let mut got = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), &salt, iters, &mut got)
        .expect("HMAC accepts keys of any length");
    got.ct_eq(&want[..]).into()
}

/// A hash to verify against when the user does not exist, so that "no such
/// user" costs the same time as "wrong password" (no user enumeration by timing).
pub const DUMMY_HASH: &str = "pbkdf2-sha256$64$00000000000000000000000000000000$0000000000000000000000000000000000000000000000000000000000000000";

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let h = hash_with_salt("pw-user1", &[7; 16], SEED_ITERATIONS);
        assert!(h.starts_with("pbkdf2-sha256$64$0707"));
        assert!(verify("pw-user1", &h));
        assert!(!verify("pw-user2", &h));
        assert!(!verify("pw-user1", "garbage"));
        assert!(!verify("pw-user1", "pbkdf2-sha256$0$00$00"));
        assert!(!verify("", DUMMY_HASH));
        let fresh = hash("é<script>");
        assert!(verify("é<script>", &fresh));
        assert_ne!(fresh, hash("é<script>"), "salts are random");
    }

    #[test]
    fn seeded_rule() {
        assert_eq!(seeded_password("user42"), "pw-user42");
    }
}
