//! Settings a supervisor forwards to its children as a command line
//! (`ServeArgs::to_args`, stage-4's `CacheArgs::to_args`): checked to
//! round-trip, so a new option that is not forwarded fails a test instead
//! of being silently left at its default in every instance.

use std::ffi::OsString;
use std::fmt::Debug;

/// Asserts that `args` (what `value.to_args()` produced) names every long
/// option of `T` and parses back to `value`.
///
/// `value` should set every field to something other than its default:
/// the first check catches an option that `to_args` forgets even when the
/// test's value was not updated for it, the second one a value that is
/// written wrong.
pub fn assert_round_trips<T>(value: &T, args: &[OsString])
where
    T: clap::Args + clap::FromArgMatches + PartialEq + Debug,
{
    let cmd = T::augment_args(clap::Command::new("settings")).no_binary_name(true);
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        let flag = format!("--{long}");
        assert!(
            args.iter().any(|x| *x == *flag),
            "to_args() does not forward {flag}: {args:?}"
        );
    }
    let matches = cmd
        .try_get_matches_from(args)
        .unwrap_or_else(|e| panic!("to_args() does not parse back: {e}\n{args:?}"));
    let back = T::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&back, value, "to_args() does not round-trip: {args:?}");
}
