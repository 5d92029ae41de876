//! nginx's `hash $key consistent` ring, replicated, so the app stores every
//! key on the memcached server where nginx will look for it.
//!
//! The algorithm of `ngx_http_upstream_hash_module` (nginx 1.22,
//! `ngx_http_upstream_update_chash` and `ngx_http_upstream_get_chash_peer`),
//! which is the ketama-style ring of Cache::Memcached::Fast:
//! - For each server, as written in the `upstream` block (`127.0.0.1:11211`;
//!   the text, never a resolved address): split at the last `:` when what
//!   follows is all digits; `base = crc32(host ‖ "\0" ‖ port)` (an update,
//!   not a finished CRC); then `weight × 160` points, point *j* being
//!   `crc32_final(base ‖ prev)` where `prev` is point *j−1* as 4 little-endian
//!   bytes (zero for the first).
//! - Points sorted by hash; of equal hashes only the first is kept.
//! - A key goes to the first point whose hash is ≥ `crc32(key)`, wrapping
//!   past the last point to the first.
//! - The key hashed is the value of `$memcached_key` **before** the memcached
//!   module escapes it for the wire; [`Ring::route_wire`] therefore undoes
//!   [`app`-side escaping](https://nginx.org/en/docs/http/ngx_http_memcached_module.html)
//!   before hashing.
//!
//! CRC-32 is the IEEE one (zlib's, nginx's `ngx_crc32_*`). Checked against a
//! real nginx and two real memcached servers by `tests/ring_matches_nginx.rs`.

/// Points per server of weight 1 (nginx's constant).
pub const POINTS_PER_WEIGHT: usize = 160;

/// The ring of a list of servers, all of weight 1.
#[derive(Clone, Debug)]
pub struct Ring {
    /// (point hash, server index), sorted by hash, hashes unique.
    points: Vec<(u32, usize)>,
    servers: Vec<String>,
}

impl Ring {
    /// Builds the ring of `servers`, written exactly as in nginx's
    /// `upstream` block.
    ///
    /// # Panics
    /// If `servers` is empty.
    pub fn new<S: AsRef<str>>(servers: &[S]) -> Self {
        assert!(!servers.is_empty(), "a ring needs at least one server");
        let mut points = Vec::with_capacity(servers.len() * POINTS_PER_WEIGHT);
        for (i, server) in servers.iter().enumerate() {
            let server = server.as_ref().as_bytes();
            let (host, port) = split_host_port(server);
            let mut base = Crc32::new();
            base.update(host);
            base.update(b"\0");
            base.update(port);
            let mut prev = 0u32;
            for _ in 0..POINTS_PER_WEIGHT {
                let mut h = base;
                h.update(&prev.to_le_bytes());
                let point = h.finish();
                points.push((point, i));
                prev = point;
            }
        }
        // nginx sorts with qsort (not stable) and keeps the first of equal
        // hashes; sorting by (hash, server) keeps the lowest server index. A
        // 32-bit collision between two servers' points is the only case
        // where this could differ from a given nginx build.
        points.sort_unstable();
        points.dedup_by_key(|p| p.0);
        Ring {
            points,
            servers: servers.iter().map(|s| s.as_ref().to_owned()).collect(),
        }
    }

    /// The servers, in the order given.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// Index of the server holding `key` (the unescaped `$memcached_key`).
    pub fn route(&self, key: &[u8]) -> usize {
        if self.servers.len() == 1 {
            return 0;
        }
        let hash = crc32(key);
        let i = self.points.partition_point(|p| p.0 < hash);
        self.points[i % self.points.len()].1
    }

    /// Index of the server holding the key sent on the wire as `wire`
    /// (escaped as nginx escapes it: see `crate::keys::escape`).
    pub fn route_wire(&self, wire: &[u8]) -> usize {
        if self.servers.len() == 1 {
            return 0;
        }
        if !wire.contains(&b'%') {
            return self.route(wire);
        }
        self.route(&unescape(wire))
    }
}

/// `host:port` → (`host`, `port`) as nginx splits a server name: at the last
/// colon when only digits follow it; otherwise the whole name is the host.
fn split_host_port(s: &[u8]) -> (&[u8], &[u8]) {
    if let Some(stripped) = s.strip_prefix(b"unix:") {
        return (stripped, b"");
    }
    for j in 0..s.len() {
        let c = s[s.len() - j - 1];
        if c == b':' {
            return (&s[..s.len() - j - 1], &s[s.len() - j..]);
        }
        if !c.is_ascii_digit() {
            break;
        }
    }
    (s, b"")
}

/// Undoes nginx's memcached key escaping (`%XX` → byte). Escaping turns
/// every `%` into `%25`, so every `%` in an escaped key starts an escape.
fn unescape(wire: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        if wire[i] == b'%'
            && i + 2 < wire.len()
            && let (Some(h), Some(l)) = (hex(wire[i + 1]), hex(wire[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(wire[i]);
        i += 1;
    }
    out
}

/// The IEEE CRC-32 lookup table (reflected polynomial 0xEDB88320).
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// A CRC-32 in progress (nginx's `ngx_crc32_init/update/final`).
#[derive(Clone, Copy, Debug)]
struct Crc32(u32);

impl Crc32 {
    fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    fn update(&mut self, data: &[u8]) {
        let mut c = self.0;
        for &b in data {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    fn finish(self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

/// CRC-32 of `data` (nginx's `ngx_crc32_long`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_ieee() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn splits_like_nginx() {
        assert_eq!(
            split_host_port(b"127.0.0.1:11211"),
            (&b"127.0.0.1"[..], &b"11211"[..])
        );
        assert_eq!(
            split_host_port(b"cache.local"),
            (&b"cache.local"[..], &b""[..])
        );
        assert_eq!(
            split_host_port(b"[::1]:11211"),
            (&b"[::1]"[..], &b"11211"[..])
        );
        assert_eq!(
            split_host_port(b"unix:/tmp/mc.sock"),
            (&b"/tmp/mc.sock"[..], &b""[..])
        );
    }

    #[test]
    fn spreads_keys_and_moves_few() {
        let two = Ring::new(&["127.0.0.1:21001", "127.0.0.1:21002"]);
        let three = Ring::new(&["127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"]);
        assert_eq!(two.points.len(), 320);
        let keys: Vec<String> = (0..3000).map(|i| format!("/user/user{i}?")).collect();
        let on0 = keys.iter().filter(|k| two.route(k.as_bytes()) == 0).count();
        assert!(
            (900..2100).contains(&on0),
            "unbalanced: {on0} of 3000 on server 0"
        );
        // Adding a server only moves keys to the new one.
        for k in &keys {
            let (a, b) = (two.route(k.as_bytes()), three.route(k.as_bytes()));
            assert!(a == b || b == 2, "{k} moved from {a} to {b}");
        }
        assert_eq!(Ring::new(&["x:1"]).route(b"anything"), 0);
    }

    #[test]
    fn wire_keys_route_as_their_raw_form() {
        let ring = Ring::new(&["127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"]);
        for raw in ["/a b?", "/100%?x", "/tab\there?", "/plain?"] {
            let wire = crate::keys::escape(raw);
            assert_eq!(unescape(wire.as_bytes()), raw.as_bytes());
            assert_eq!(
                ring.route_wire(wire.as_bytes()),
                ring.route(raw.as_bytes()),
                "{raw}"
            );
        }
    }
}
