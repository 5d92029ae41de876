//! What the virtual users ask for: one URL (`single`), the documented
//! `realistic` mix, or weights read from a TOML/JSON file.
//!
//! ## The realistic mix
//!
//! Every connection is a virtual user (VU) with its own deterministic random
//! stream (seeded from the mix `seed` and the VU number), so two runs with the
//! same options send each VU the same sequence of requests; only the
//! interleaving between VUs depends on timing.
//!
//! - Request kinds are drawn by weight: `home` (`GET /`), `user`
//!   (`GET /user/userN`), `photo` (`GET /photo/ID`), `static`
//!   (`GET /static/photos/FILE` of a photo), `comment`
//!   (`POST /photo/ID/comments`, logged-in VUs only; anonymous VUs draw from
//!   the other kinds).
//! - Popularity is Zipf-distributed with exponent `zipf`: `user1` is the most
//!   popular user, `user2` the next...; the *newest* photo is the most popular
//!   photo (it is on the home page), the one before it the next... So a few
//!   pages take most of the traffic, as on a real site, and caches can help.
//! - A share `logged_in` of the VUs (spread evenly over the connection numbers)
//!   log in first (`POST /login` as a seeded user, password `pw-<username>`),
//!   keep the `sid` cookie and send it with every later request. A VU whose
//!   login fails carries on anonymously; one whose session is refused (401)
//!   logs in again.
//!
//! Mix file (TOML or JSON, every key optional, defaults = `realistic`;
//! `fixtures/mix-browse.toml` is an example):
//!
//! ```toml
//! home = 10.0      # relative weights of the request kinds
//! user = 25.0
//! photo = 35.0
//! static = 28.0
//! comment = 2.0    # only logged-in VUs write
//! logged_in = 0.1  # share of VUs that log in first
//! zipf = 1.0       # popularity exponent (0 = uniform)
//! seed = 2007      # the same seed gives each VU the same requests
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::http;

/// What a request asks for, for per-kind figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Home,
    User,
    Photo,
    Static,
    Login,
    Comment,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Home,
        Kind::User,
        Kind::Photo,
        Kind::Static,
        Kind::Login,
        Kind::Comment,
        Kind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Home => "home",
            Kind::User => "user",
            Kind::Photo => "photo",
            Kind::Static => "static",
            Kind::Login => "login",
            Kind::Comment => "comment",
            Kind::Other => "other",
        }
    }

    /// The kind of a GET path under the site's URL scheme.
    pub fn of_path(path: &str) -> Kind {
        let p = path.split('?').next().unwrap_or(path);
        if p == "/" {
            Kind::Home
        } else if p.starts_with("/user/") {
            Kind::User
        } else if p.starts_with("/static/") {
            Kind::Static
        } else if p.starts_with("/photo/") && p.ends_with("/comments") {
            Kind::Comment
        } else if p.starts_with("/photo/") {
            Kind::Photo
        } else if p == "/login" {
            Kind::Login
        } else {
            Kind::Other
        }
    }
}

/// Weights and knobs of a weighted mix. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixSpec {
    pub home: f64,
    pub user: f64,
    pub photo: f64,
    #[serde(rename = "static")]
    pub static_: f64,
    pub comment: f64,
    pub logged_in: f64,
    pub zipf: f64,
    pub seed: u64,
}

impl Default for MixSpec {
    /// The `realistic` mix.
    fn default() -> Self {
        MixSpec {
            // Photo pages are what people share and visit most; user pages
            // come from clicking an owner; the home page is one entry point.
            home: 10.0,
            user: 25.0,
            photo: 35.0,
            // Nearly every photo page view fetches its image.
            static_: 28.0,
            // Writes are rare on a photo site, but they invalidate caches.
            comment: 2.0,
            // One visitor in ten is logged in: enough to make every stage
            // read (stage-1/2: and write) sessions on a steady share of requests.
            logged_in: 0.1,
            // The classic web popularity curve: the k-th page gets 1/k of the top one's hits.
            zipf: 1.0,
            // The year of the talk, like `seed`'s default.
            seed: 2007,
        }
    }
}

impl MixSpec {
    /// Reads a `.toml` or `.json` mix file.
    pub fn from_file(path: &Path) -> Result<MixSpec, Error> {
        let bad = |why: String| Error::Mix {
            path: path.to_path_buf(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let spec: MixSpec = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?,
            Some("toml") => basic_toml::from_str(&text).map_err(|e| bad(e.to_string()))?,
            _ => return Err(bad("a mix file must end in .toml or .json".into())),
        };
        spec.check().map_err(bad)?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), String> {
        let w = [self.home, self.user, self.photo, self.static_, self.comment];
        if w.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err("weights must be finite and >= 0".into());
        }
        if w[..4].iter().sum::<f64>() <= 0.0 {
            return Err("at least one of home, user, photo, static must have a weight > 0".into());
        }
        if !(0.0..=1.0).contains(&self.logged_in) {
            return Err("logged_in is a share between 0 and 1".into());
        }
        if !(0.0..=10.0).contains(&self.zipf) {
            return Err("zipf must be between 0 and 10".into());
        }
        Ok(())
    }
}

/// Which mix the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum MixChoice {
    /// The URL given, every time (like ab and wrk).
    Single,
    /// [`MixSpec::default`].
    Realistic,
    /// A mix file.
    File(PathBuf),
    /// A spec built in code (tests).
    Spec(MixSpec),
}

impl MixChoice {
    /// `single`, `realistic`, or a path to a `.toml`/`.json` file.
    pub fn parse(s: &str) -> MixChoice {
        match s {
            "single" => MixChoice::Single,
            "realistic" => MixChoice::Realistic,
            path => MixChoice::File(PathBuf::from(path)),
        }
    }

    /// How reports name it.
    pub fn label(&self) -> String {
        match self {
            MixChoice::Single => "single".into(),
            MixChoice::Realistic => "realistic".into(),
            MixChoice::File(p) => p.display().to_string(),
            MixChoice::Spec(_) => "custom".into(),
        }
    }
}

/// What the mix needs to know of the seeded data.
#[derive(Debug, Clone)]
pub struct Site {
    pub users: u64,
    /// Photo ids, ascending.
    pub photo_ids: Vec<i64>,
    /// Index into `files` of each photo in `photo_ids`.
    pub photo_file: Vec<u16>,
    pub files: Vec<String>,
}

impl Site {
    /// Reads users and photos from a seeded database.
    pub fn load(db: &Path) -> Result<Site, Error> {
        let conn = model::open(db)?;
        let users: u64 = model::schema::meta(&conn, "users")?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Db(format!("{}: meta has no users count", db.display())))?;
        let mut stmt = conn
            .prepare("SELECT id, file FROM photos ORDER BY id")
            .map_err(model::ModelError::from)?;
        let mut rows = stmt.query([]).map_err(model::ModelError::from)?;
        let mut site = Site {
            users,
            photo_ids: Vec::new(),
            photo_file: Vec::new(),
            files: Vec::new(),
        };
        let mut index: std::collections::HashMap<String, u16> = Default::default();
        while let Some(row) = rows.next().map_err(model::ModelError::from)? {
            let id: i64 = row.get(0).map_err(model::ModelError::from)?;
            let file: String = row.get(1).map_err(model::ModelError::from)?;
            let next = index.len();
            let fi = *index.entry(file.clone()).or_insert_with(|| {
                site.files.push(file);
                next as u16
            });
            if site.files.len() > usize::from(u16::MAX) {
                return Err(Error::Db("more than 65535 distinct photo files".into()));
            }
            site.photo_ids.push(id);
            site.photo_file.push(fi);
        }
        if users == 0 || site.photo_ids.is_empty() {
            return Err(Error::Db(format!(
                "{}: no users or no photos",
                db.display()
            )));
        }
        Ok(site)
    }
}

/// The workspace's deterministic generator (SplitMix64, `seed::rng`): a mix
/// replays the same on every machine and every version of the `rand` crate.
pub use seed::rng::Rng;

/// Zipf-distributed ranks 1..=n by rejection from a continuous bound (the
/// algorithm of `rand_distr::Zipf`): O(1) per sample, no table, for any n.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    s: f64,
    t: f64,
    q: f64,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Zipf {
        let n = n.max(1) as f64;
        let q = if s != 1.0 { 1.0 / (1.0 - s) } else { 0.0 };
        let t = if s != 1.0 {
            (n.powf(1.0 - s) - s) * q
        } else {
            1.0 + n.ln()
        };
        Zipf { n, s, t, q }
    }

    fn inv_cdf(&self, p: f64) -> f64 {
        let pt = p * self.t;
        if pt <= 1.0 {
            pt
        } else if self.s != 1.0 {
            (pt * (1.0 - self.s) + self.s).powf(self.q)
        } else {
            (pt - 1.0).exp()
        }
    }

    /// A rank in 1..=n (1 the most popular).
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let inv_b = self.inv_cdf(rng.f64());
            let x = (inv_b + 1.0).floor().min(self.n);
            let mut ratio = x.powf(-self.s);
            if x > 1.0 {
                ratio *= inv_b.powf(self.s);
            }
            if rng.f64() < ratio {
                return x as u64;
            }
        }
    }
}

/// A weighted mix ready to draw from (shared by all threads).
#[derive(Debug)]
pub struct Weighted {
    pub spec: MixSpec,
    site: Site,
    users: Zipf,
    photos: Zipf,
    /// Cumulative weights of home, user, photo, static, comment.
    cumulative: [f64; 5],
}

impl Weighted {
    pub fn new(spec: MixSpec, site: Site) -> Weighted {
        let w = [spec.home, spec.user, spec.photo, spec.static_, spec.comment];
        let mut cumulative = [0.0; 5];
        let mut acc = 0.0;
        for (c, x) in cumulative.iter_mut().zip(w) {
            acc += x;
            *c = acc;
        }
        Weighted {
            users: Zipf::new(site.users, spec.zipf),
            photos: Zipf::new(site.photo_ids.len() as u64, spec.zipf),
            spec,
            site,
            cumulative,
        }
    }

    /// Whether VU number `k` logs in: exactly `round(C * share)` of the first
    /// C VUs do, spread evenly (VU k does when floor((k+1)s) > floor(ks)).
    pub fn logs_in(&self, k: usize) -> bool {
        let s = self.spec.logged_in;
        ((k + 1) as f64 * s).floor() > (k as f64 * s).floor()
    }

    fn photo_index(&self, rng: &mut Rng) -> usize {
        let rank = self.photos.sample(rng) as usize;
        // Rank 1 is the newest photo.
        self.site.photo_ids.len() - rank.min(self.site.photo_ids.len())
    }
}

/// One virtual user's state.
#[derive(Debug)]
pub struct Vu {
    k: usize,
    rng: Rng,
    wants_login: bool,
    /// `sid=...` once logged in.
    cookie: Option<String>,
    username: String,
    seq: u64,
    form: String,
    path: String,
}

impl Vu {
    pub fn new(mix: &Weighted, k: usize) -> Vu {
        let mut rng = Rng::new(mix.spec.seed ^ (k as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        // Logged-in VUs log in as a user spread over the whole user table.
        let user = 1 + rng.next_u64() % mix.site.users;
        Vu {
            k,
            rng,
            wants_login: mix.logs_in(k),
            cookie: None,
            username: format!("user{user}"),
            seq: 0,
            form: String::new(),
            path: String::new(),
        }
    }

    /// Writes this VU's next request into `out` and says what it is.
    pub fn next(
        &mut self,
        mix: &Weighted,
        host: &str,
        extra: &str,
        close: bool,
        out: &mut Vec<u8>,
    ) -> Kind {
        use std::fmt::Write as _;
        self.seq += 1;
        if self.wants_login && self.cookie.is_none() {
            self.form = http::form_encode(&[
                ("username", &self.username),
                (
                    "password",
                    &model::password::seeded_password(&self.username),
                ),
            ]);
            http::write_request(
                out,
                "POST",
                "/login",
                host,
                None,
                extra,
                Some(self.form.as_bytes()),
                close,
            );
            return Kind::Login;
        }
        // Anonymous VUs never draw a comment.
        let top = if self.cookie.is_some() {
            mix.cumulative[4]
        } else {
            mix.cumulative[3]
        };
        let x = self.rng.f64() * top;
        let pick = mix.cumulative.iter().position(|&c| x < c).unwrap_or(3);
        self.path.clear();
        let kind = match pick {
            0 => {
                self.path.push('/');
                Kind::Home
            }
            1 => {
                let _ = write!(self.path, "/user/user{}", mix.users.sample(&mut self.rng));
                Kind::User
            }
            2 => {
                let i = mix.photo_index(&mut self.rng);
                let _ = write!(self.path, "/photo/{}", mix.site.photo_ids[i]);
                Kind::Photo
            }
            3 => {
                let i = mix.photo_index(&mut self.rng);
                let file = &mix.site.files[usize::from(mix.site.photo_file[i])];
                let _ = write!(self.path, "/static/photos/{file}");
                Kind::Static
            }
            _ => {
                let i = mix.photo_index(&mut self.rng);
                let _ = write!(self.path, "/photo/{}/comments", mix.site.photo_ids[i]);
                let body = format!("loadgen comment {} from vu {}", self.seq, self.k);
                self.form = http::form_encode(&[("body", &body)]);
                http::write_request(
                    out,
                    "POST",
                    &self.path,
                    host,
                    self.cookie.as_deref(),
                    extra,
                    Some(self.form.as_bytes()),
                    close,
                );
                return Kind::Comment;
            }
        };
        http::write_request(
            out,
            "GET",
            &self.path,
            host,
            self.cookie.as_deref(),
            extra,
            None,
            close,
        );
        kind
    }

    /// Learns from a response: the session cookie after a login, a lost session.
    pub fn on_response(&mut self, kind: Kind, status: u16, sid: Option<&[u8]>) {
        match (kind, status) {
            (Kind::Login, 303) => match sid.and_then(|s| std::str::from_utf8(s).ok()) {
                Some(s) => self.cookie = Some(s.to_string()),
                // Logged in without a cookie? Give up rather than loop on logins.
                None => self.wants_login = false,
            },
            // Wrong password or no such user: this VU carries on anonymously.
            (Kind::Login, _) => self.wants_login = false,
            // The session is gone (server restarted, expired): log in again.
            (_, 401) if self.cookie.is_some() => self.cookie = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_shape() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = Rng::new(1);
        let mut counts = vec![0u32; 1001];
        for _ in 0..200_000 {
            let r = z.sample(&mut rng) as usize;
            assert!((1..=1000).contains(&r));
            counts[r] += 1;
        }
        // P(1)/P(2) = 2 for s = 1; P(1) = 1/H(1000) ~ 13.4%.
        let ratio = f64::from(counts[1]) / f64::from(counts[2]);
        assert!((1.8..2.2).contains(&ratio), "{ratio}");
        let p1 = f64::from(counts[1]) / 200_000.0;
        assert!((0.12..0.15).contains(&p1), "{p1}");
        let uniform = Zipf::new(10, 0.0);
        let mut c = [0u32; 11];
        for _ in 0..100_000 {
            c[uniform.sample(&mut rng) as usize] += 1;
        }
        assert!(
            c[1..].iter().all(|&n| (9_000..11_000).contains(&n)),
            "{c:?}"
        );
    }

    #[test]
    fn logged_in_share_and_kinds() {
        let site = Site {
            users: 100,
            photo_ids: (1..=50).collect(),
            photo_file: vec![0; 50],
            files: vec!["p0000.jpg".into()],
        };
        let mix = Weighted::new(MixSpec::default(), site);
        assert_eq!((0..100).filter(|&k| mix.logs_in(k)).count(), 10);
        assert_eq!((0..10).filter(|&k| mix.logs_in(k)).count(), 1);
        let mut vu = Vu::new(&mix, 9);
        let mut out = Vec::new();
        assert_eq!(vu.next(&mix, "h", "", false, &mut out), Kind::Login);
        assert!(String::from_utf8_lossy(&out).contains("password=pw-user"));
        vu.on_response(Kind::Login, 303, Some(b"sid=ab12"));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let kind = vu.next(&mix, "h", "", false, &mut out);
            assert!(String::from_utf8_lossy(&out).contains("Cookie: sid=ab12\r\n"));
            seen.insert(kind);
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
        // The same VU replays the same requests.
        let (mut a, mut b) = (Vu::new(&mix, 3), Vu::new(&mix, 3));
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            a.next(&mix, "h", "", false, &mut x);
            b.next(&mix, "h", "", false, &mut y);
            assert_eq!(x, y);
        }
        assert_eq!(Kind::of_path("/photo/3/comments"), Kind::Comment);
        assert_eq!(Kind::of_path("/?x"), Kind::Home);
    }
}
