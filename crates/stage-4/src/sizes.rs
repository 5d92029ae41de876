//! How much memory the cache needs: every page and photo of a data set,
//! estimated from a sample of rendered pages (`stage-4 cache-size --db DB`).
//!
//! memcached keeps what fits in its memory (`-m`, the stage's
//! `--memcached-mb`) and evicts the least recently used beyond that. So the
//! question "can the cache hold the whole site?" has a number: the
//! anonymous pages (one per photo, one per page of a user's photos, the
//! home page), the photo bytes, and what memcached adds to each item.

use std::path::Path;

use rusqlite::OptionalExtension;

/// Bytes memcached adds to each item beside its key and value: the item
/// header (48 bytes on 64-bit builds with CAS), the key's terminator and
/// the stored suffix with flags and length, rounded up.
pub const ITEM_OVERHEAD: u64 = 64;

/// memcached stores an item in the smallest slab class that fits it; the
/// classes grow by a factor of 1.25, so on average an item wastes about a
/// ninth of its class. Counted as this factor on the total.
pub const SLAB_WASTE: f64 = 1.12;

/// What the estimate found.
#[derive(Debug, Clone)]
pub struct Estimate {
    pub users: u64,
    /// Pages of users' photo lists (page 1 of every user, and the others).
    pub user_pages: u64,
    /// Photo pages (one per photo).
    pub photo_pages: u64,
    /// Mean bytes of a rendered user page and photo page (from the sample).
    pub user_page_bytes: f64,
    pub photo_page_bytes: f64,
    /// Distinct photo files and their total bytes.
    pub photo_files: u64,
    pub photo_file_bytes: u64,
    /// Pages rendered to estimate the means.
    pub sampled: u64,
}

impl Estimate {
    /// Bytes of every item, overhead and slab waste included.
    pub fn total_bytes(&self) -> u64 {
        let items = |n: u64, mean: f64, key: f64| n as f64 * (mean + key + ITEM_OVERHEAD as f64);
        let bytes = items(self.user_pages, self.user_page_bytes, 20.0)
            + items(self.photo_pages, self.photo_page_bytes, 16.0)
            + self.photo_file_bytes as f64
            + self.photo_files as f64 * (30.0 + ITEM_OVERHEAD as f64);
        (bytes * SLAB_WASTE) as u64
    }

    /// The total in whole megabytes, rounded up: the `--memcached-mb` that
    /// holds the whole site.
    pub fn total_mb(&self) -> u64 {
        self.total_bytes().div_ceil(1024 * 1024)
    }
}

/// Whether `db`'s photos table has an index (the seeded one,
/// `model::schema::INDEXES`, unless seeded with `--no-index`): without
/// it, [`estimate`]'s every page scans the whole table.
pub fn indexed(db: &Path) -> Result<bool, model::ModelError> {
    let conn = model::open(db)?;
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'photos'",
        [],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Estimates the cache the data set in `db` needs, rendering `sample` user
/// pages and `sample` photo pages spread over the whole data set.
pub fn estimate(db: &Path, photos_dir: &Path, sample: u64) -> Result<Estimate, model::ModelError> {
    let conn = model::open(db)?;
    let q = |sql: &str| -> Result<u64, model::ModelError> {
        Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
    };
    let users = q("SELECT count(*) FROM users")?;
    let per_page = i64::from(model::PAGE_SIZE);
    let user_pages: u64 = conn.query_row(
        "SELECT coalesce(sum((n + ?1 - 1) / ?1), 0) FROM (SELECT count(*) AS n FROM photos GROUP BY user_id)",
        [per_page],
        |r| r.get::<_, i64>(0),
    )? as u64;
    let (lo, hi): (i64, i64) = conn.query_row(
        "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM photos",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let photo_pages = q("SELECT count(*) FROM photos")?;
    let sample = sample.max(1);
    let (mut ub, mut pb, mut n) = (0u64, 0u64, 0u64);
    for i in 0..sample {
        // Evenly spread over the ids: the seed assigns them in order, so
        // this covers every kind of user and photo.
        let uid = 1 + (i * users.max(1)) / sample;
        let name: Option<String> = conn
            .query_row(
                "SELECT username FROM users WHERE id = ?1",
                [uid as i64],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(name) = name
            && let Some(page) = model::queries::user_page(&conn, &name, 1)?
        {
            ub += model::render::user(None, &page)?.len() as u64;
        }
        let pid = lo + ((hi - lo) as u64 * i / sample) as i64;
        if let Some(page) = model::queries::photo_page(&conn, pid)? {
            pb += model::render::photo(None, &page)?.len() as u64;
            n += 1;
        }
    }
    let (mut files, mut file_bytes) = (0, 0);
    if let Ok(dir) = std::fs::read_dir(photos_dir) {
        for e in dir.flatten() {
            if let Ok(m) = e.metadata()
                && m.is_file()
            {
                files += 1;
                file_bytes += m.len();
            }
        }
    }
    Ok(Estimate {
        users,
        user_pages,
        photo_pages,
        user_page_bytes: ub as f64 / sample as f64,
        photo_page_bytes: pb as f64 / n.max(1) as f64,
        photo_files: files,
        photo_file_bytes: file_bytes,
        sampled: 2 * sample,
    })
}
