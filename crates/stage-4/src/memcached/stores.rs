//! The stores of pages, page data and photo bytes: the app's `PageCache`
//! and `PhotoStore` seams on memcached.

use std::sync::Arc;
use std::time::Instant;

use app::{PageAddr, PageCache, PhotoStore};

use super::{Memcached, Pending, Writer};
use crate::keys;

/// Version `v` as item flags; `None` if it does not fit (the page is then
/// not cached: an uncached page is never stale).
fn flags_of(v: u64) -> Option<u32> {
    u32::try_from(v).ok()
}

/// Pages and page data in memcached (the app's `PageCache` seam).
#[derive(Debug)]
pub struct Pages {
    pub mc: Arc<Memcached>,
    /// Where a reader's `add`s go: off the request's path.
    pub writer: Arc<Writer>,
    /// Seconds an item lives.
    pub ttl: u32,
}

impl Pages {
    fn add(&self, key: String, page: &PageAddr, value: &[u8], version: u64, read_at: Instant) {
        if let Some(flags) = flags_of(version) {
            self.writer.add(Pending {
                key,
                value: value.to_vec(),
                flags,
                ttl: self.ttl,
                page: Some((page.clone(), version, read_at)),
            });
        }
    }
}

impl PageCache for Pages {
    fn enabled(&self) -> bool {
        true
    }

    /// Only for logged-in visitors. An anonymous request reaches the app
    /// only after nginx has missed the whole page (nginx answers the
    /// anonymous pages it holds), so the data behind it is almost surely
    /// missing too: asking would be a memcached round trip for nothing,
    /// and storing it one more for a reader who may never come (measured
    /// on the realistic mix: two of an anonymous miss's three round trips;
    /// the page itself is still stored, by `add_page`).
    fn caches_data_for(&self, logged_in: bool) -> bool {
        logged_in
    }

    fn get_data(&self, page: &PageAddr) -> Option<Vec<u8>> {
        self.mc.get(&keys::data(page))
    }

    fn add_data(&self, page: &PageAddr, data: &[u8], version: u64, read_at: Instant) {
        self.add(keys::data(page), page, data, version, read_at);
    }

    fn add_page(&self, page: &PageAddr, html: &[u8], version: u64, read_at: Instant) {
        self.add(keys::page(page), page, html, version, read_at);
    }

    fn publish(&self, page: &PageAddr, html: &[u8], data: &[u8], version: u64) {
        let (dk, pk) = (keys::data(page), keys::page(page));
        match flags_of(version) {
            // The data first: a logged-in reader of the new page finds it;
            // an anonymous one is served the page by nginx right after.
            Some(f) => self
                .mc
                .publish_many(&[(dk, data.to_vec(), f), (pk, html.to_vec(), f)], self.ttl),
            None => {
                self.mc.delete(&dk);
                self.mc.delete(&pk);
            }
        }
    }
}

/// Photo bytes: read from disk when a request reaches the app (which is
/// only after nginx missed them in memcached: asking memcached again would
/// be a round trip for nothing), then left in memcached by the [`Writer`],
/// where nginx finds them next time.
#[derive(Debug)]
pub struct Photos {
    pub disk: app::DiskPhotos,
    pub writer: Arc<Writer>,
    /// Seconds the bytes stay cached.
    pub ttl: u32,
}

impl PhotoStore for Photos {
    fn read(&self, file: &str) -> std::io::Result<Option<Vec<u8>>> {
        let bytes = self.disk.read(file)?;
        if let Some(b) = &bytes {
            self.writer.add(Pending {
                key: keys::photo(file),
                value: b.clone(),
                flags: 0,
                ttl: self.ttl,
                page: None,
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(path: &str) -> PageAddr {
        PageAddr {
            path: path.into(),
            query: String::new(),
        }
    }

    fn pages(writer: Arc<Writer>) -> Pages {
        Pages {
            mc: Arc::new(Memcached::new(&["127.0.0.1:1".into()], 2).unwrap()),
            writer,
            ttl: 300,
        }
    }

    #[test]
    fn a_reader_s_page_and_data_go_to_the_writer_with_their_version() {
        let (w, rx) = Writer::detached(8);
        let p = pages(w);
        let t = Instant::now();
        p.add_page(&addr("/photo/7"), b"<html>", 42, t);
        p.add_data(&addr("/photo/7"), b"{}", 42, t);
        let q: Vec<Pending> = rx.try_iter().collect();
        assert_eq!(q.len(), 2);
        assert_eq!(
            (q[0].key.as_str(), q[0].flags, q[0].ttl),
            ("/photo/7?", 42, 300)
        );
        assert_eq!(q[1].key, "data:/photo/7?");
        assert_eq!(q[0].value, b"<html>");
        assert_eq!(q[0].page, Some((addr("/photo/7"), 42, t)));
    }

    #[test]
    fn a_version_that_does_not_fit_the_flags_is_not_cached() {
        let (w, rx) = Writer::detached(8);
        pages(w).add_page(&addr("/"), b"x", u64::from(u32::MAX) + 1, Instant::now());
        assert_eq!(rx.try_iter().count(), 0);
        assert_eq!(flags_of(u64::from(u32::MAX)), Some(u32::MAX));
    }

    #[test]
    fn photo_bytes_read_from_disk_are_left_for_nginx() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p1.jpg"), b"jpeg").unwrap();
        let (writer, rx) = Writer::detached(8);
        let photos = Photos {
            disk: app::DiskPhotos {
                dir: dir.path().into(),
            },
            writer,
            ttl: 86_400,
        };
        assert_eq!(
            photos.read("p1.jpg").unwrap().as_deref(),
            Some(&b"jpeg"[..])
        );
        assert_eq!(photos.read("p2.jpg").unwrap(), None);
        let q: Vec<Pending> = rx.try_iter().collect();
        assert_eq!(q.len(), 1, "only what exists is cached");
        assert_eq!(
            (q[0].key.as_str(), q[0].flags, q[0].ttl),
            ("/static/photos/p1.jpg?", 0, 86_400)
        );
        assert!(
            q[0].page.is_none(),
            "photo bytes never change: no freshness check"
        );
    }
}
