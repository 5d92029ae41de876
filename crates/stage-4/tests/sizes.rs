//! The startup estimate of the cache's size is skipped on a database
//! without its index (each sampled page would scan every photo), and only
//! there.

#[test]
fn the_estimate_runs_only_where_the_photos_index_is() {
    let indexed = testkit::Site::with(50, true);
    let bare = testkit::Site::with(50, false);
    assert!(stage_4::sizes::indexed(&indexed.db).unwrap());
    assert!(!stage_4::sizes::indexed(&bare.db).unwrap());
    let e = stage_4::sizes::estimate(&indexed.db, &indexed.photos, 10).unwrap();
    assert_eq!(e.users, 50);
}
