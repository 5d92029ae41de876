//! stage-4's `nginx.conf`: `templates/nginx.conf` (read it: it is the
//! lesson), rendered with the stage's addresses.

use cluster::nginx::{Base, Nginx};
use cluster::stage::Instance;

use crate::keys;

/// Why stage-4 is exempt from the contract's `half-close` check: the one
/// client nginx's memcached front cannot serve.
pub const HALF_CLOSE: &str = "nginx's memcached module abandons a request whose client has \
shut down its sending side (its ignore_client_abort is fixed to off, unlike proxy_pass's), \
so a half-closed anonymous GET gets no answer; the only way round, an internal proxy hop \
before every lookup, would double nginx's work on every cache hit, the cost stage-4 exists \
to remove. POSTs and logged-in requests (proxied) are served.";

/// The template, named in the rendered file's header comment.
pub const TEMPLATE: &str = "crates/stage-4/templates/nginx.conf";

/// `templates/nginx.conf`'s values.
#[derive(askama::Template)]
#[template(path = "nginx.conf")]
pub struct NginxConf {
    pub base: Base,
    /// The app instances (`host:port`).
    pub instances: Vec<String>,
    /// The memcached servers, exactly as the app lists them.
    pub memcached: Vec<String>,
    /// How nginx builds a key ([`keys::NGINX_KEY`]).
    pub key_rule: &'static str,
    /// Before every key nginx looks up (empty but for `--lookup-prefix`:
    /// every lookup then misses).
    pub lookup_prefix: String,
    /// `Cache-Control: max-age` of a photo nginx answers: as long as it is
    /// cached (the app sends the same).
    pub photo_max_age: u32,
}

/// The whole configuration for `nginx` in `run_dir`.
pub fn render(
    nginx: &Nginx,
    run_dir: &std::path::Path,
    instances: &[Instance],
    memcached: Vec<String>,
    lookup_prefix: &str,
) -> Result<String, cluster::ClusterError> {
    // Inside a quoted nginx string: anything but a plain word would change
    // the config, not just the key.
    if !lookup_prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b))
    {
        return Err(cluster::ClusterError::Usage(
            "--lookup-prefix may hold only letters, digits, '-', '_' and ':'",
        ));
    }
    cluster::nginx::render(&NginxConf {
        base: appserver::instance::nginx_base("stage-4", TEMPLATE, nginx, run_dir),
        instances: instances.iter().map(|i| i.addr.clone()).collect(),
        memcached,
        key_rule: keys::NGINX_KEY,
        lookup_prefix: lookup_prefix.to_string(),
        photo_max_age: app::PHOTO_MAX_AGE_SECS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_places_keys_like_the_app() {
        use testkit::stages::upstream;
        let n = testkit::stages::config_nginx();
        let apps = ["127.0.0.1:9000", "127.0.0.1:9001"].map(|a| upstream(a, None));
        let memcached = vec!["127.0.0.1:21211".into(), "127.0.0.1:21212".into()];
        let conf = |prefix: &str| {
            render(
                &n,
                std::path::Path::new("/run/x"),
                &apps,
                memcached.clone(),
                prefix,
            )
        };
        let c = conf("").unwrap();
        testkit::stages::assert_conf_has(
            &c,
            &[
                "hash $memcached_key consistent;\n        server 127.0.0.1:21211 max_fails=1 fail_timeout=1s;\n        server 127.0.0.1:21212 max_fails=1 fail_timeout=1s;\n        keepalive 64;",
                "upstream app {\n        server 127.0.0.1:9000 max_fails=1 fail_timeout=1s;",
                "set $memcached_key \"$uri?$args\";",
                "error_page 404 418 502 504 = @app;",
                "default_type \"text/html; charset=utf-8\";",
                "add_header Cache-Control \"public, max-age=86400\";",
                "keepalive_timeout 5s;",
                &format!("listen {} reuseport;", n.addr),
            ],
        );
        let miss = conf("miss:").unwrap();
        testkit::stages::assert_conf_has(&miss, &["set $memcached_key \"miss:$uri?$args\";"]);
        assert!(conf("a\";").is_err());
    }
}
