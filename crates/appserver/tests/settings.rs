//! `ServeArgs::to_args` forwards every option: a supervisor starts its
//! instances with exactly the settings it was given.

use appserver::ServeArgs;

/// Every field away from its default.
fn every_field_set() -> ServeArgs {
    ServeArgs {
        db: "/srv/fk/site.db".into(),
        photos: Some("/srv/fk/pool".into()),
        threads: 7,
        gil: true,
        python_factor: 13,
        session_ttl: 1234,
        secure_cookies: true,
    }
}

#[test]
fn serve_args_round_trip_through_their_command_line() {
    let a = every_field_set();
    testkit::settings::assert_round_trips(&a, &a.to_args());
}
