//! Where a page is: its canonical address ([`PageAddr`]), and the one
//! place that names a photo's page ([`photo_path`]), for the handler that
//! serves it, the comment that changes it and the cache that tracks it.

/// A page's canonical address: the path and query its route links to
/// (`/user/user7` and `page=2`; `/photo/12` and no query). Every request
/// for the same page names it the same way, however it was spelled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageAddr {
    pub path: String,
    /// Without the `?`; empty when there is none.
    pub query: String,
}

impl PageAddr {
    /// Photo `id`'s page: the one a comment on it changes (and publishes).
    pub fn photo(id: i64) -> PageAddr {
        PageAddr {
            path: photo_path(id),
            query: String::new(),
        }
    }
}

/// The canonical path of photo `id`'s page: `/photo/{id}`.
pub fn photo_path(id: i64) -> String {
    format!("/photo/{id}")
}
