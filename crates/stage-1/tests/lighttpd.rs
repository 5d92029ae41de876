//! Proof that stage-1 is real CGI: the same `stage-1-cgi` program, run by
//! lighttpd's mod_cgi (config generated into a temp dir, lighttpd started on
//! a free port and stopped afterwards), gives the same pages as through the
//! built-in host — and so does the CPython peer's `fk_cgi.py` (python-1).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::http;

struct Lighttpd(Child);
impl Drop for Lighttpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The CGI program lighttpd runs: its file, and what runs it (`""`: it is
/// executable itself, as lighttpd's `cgi.assign` says).
struct Program {
    file: String,
    interpreter: String,
}

fn rust_program() -> Program {
    Program {
        file: env!("CARGO_BIN_EXE_stage-1-cgi").into(),
        interpreter: String::new(),
    }
}

fn python_program() -> Program {
    let peer = testkit::python::peer();
    Program {
        file: peer.dir.join("fk_cgi.py").display().to_string(),
        interpreter: peer.python.display().to_string(),
    }
}

fn start_lighttpd(site: &testkit::Site, program: &Program) -> (Lighttpd, String) {
    let dir = site.dir.path().join("lighttpd");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::os::unix::fs::symlink(&program.file, www.join("flickrkillr.cgi")).unwrap();
    let port = free_port();
    let conf = format!(
        r#"server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.modules = ("mod_rewrite", "mod_setenv", "mod_cgi")
# Every URL goes to the one CGI program; lighttpd keeps the original
# REQUEST_URI and puts the rest in PATH_INFO.
url.rewrite-once = ("^/(.*)$" => "/flickrkillr.cgi/$1")
cgi.assign = (".cgi" => "{interpreter}")
setenv.add-environment = ("FK_DB" => "{db}", "FK_PHOTOS" => "{photos}")
"#,
        www = www.display(),
        dir = dir.display(),
        db = site.db.display(),
        photos = site.photos.display(),
        interpreter = program.interpreter,
    );
    let conf_path = dir.join("lighttpd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("lighttpd")
        .args(["-D", "-f"])
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start lighttpd");
    let guard = Lighttpd(child);
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "lighttpd did not start; see {}/error.log",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, addr)
}

#[test]
fn same_pages_under_lighttpd_mod_cgi() {
    same_pages(&rust_program(), &[], "stage-1 pid=");
}

#[test]
fn the_python_peer_under_lighttpd_mod_cgi() {
    let app = testkit::python::app_args();
    let app: Vec<&str> = app.iter().map(String::as_str).collect();
    same_pages(&python_program(), &app, "python-1 pid=");
}

/// `program` under lighttpd against the same program under the built-in
/// host (started with `host_args`): the same statuses, types and bytes.
fn same_pages(program: &Program, host_args: &[&str], served_by: &str) {
    if !testkit::require_tool("lighttpd", "apt-get install -y lighttpd") {
        return;
    }
    let site = testkit::Site::new(20);
    let builtin = testkit::Running::start(env!("CARGO_BIN_EXE_stage-1"), &site.args(host_args));
    let (_l, addr) = start_lighttpd(&site, program);

    let photo = model::queries::home(&site.conn()).unwrap()[0].id;
    let paths = [
        "/".to_string(),
        "/user/user3".into(),
        format!("/photo/{photo}"),
        "/user/nobody".into(),
        "/user/user3?page=0".into(),
        "/photo/abc".into(),
        "/static/photos/p0001.jpg".into(),
        "/static/photos/..%2f..%2fetc%2fpasswd".into(),
    ];
    for p in &paths {
        let a = http::request(&builtin.addr, "GET", p, &[], b"");
        let b = http::request(&addr, "GET", p, &[], b"");
        assert_eq!(a.status, b.status, "{p}: built-in host vs lighttpd");
        assert_eq!(a.body, b.body, "{p}: same bytes");
        assert_eq!(a.header("content-type"), b.header("content-type"), "{p}");
        assert!(
            b.header("x-served-by").unwrap_or("").starts_with(served_by),
            "{p}"
        );
    }
    // A NUL byte no environment variable can carry: the built-in host
    // refuses it as the client's fault (400); lighttpd refuses it itself,
    // before starting any program.
    let nul = "/static/photos/x.jpg%00.png";
    let (a, b) = (
        http::request(&builtin.addr, "GET", nul, &[], b""),
        http::request(&addr, "GET", nul, &[], b""),
    );
    assert_eq!(a.status, 400, "built-in host: {}", a.text());
    assert_eq!(b.status, 400, "lighttpd: {}", b.text());

    // A write through lighttpd: the body travels on stdin, the cookie in HTTP_COOKIE.
    let login = http::request(
        &addr,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"username=user2&password=pw-user2",
    );
    assert_eq!(login.status, 303, "{}", login.text());
    let cookie = login.cookie("sid").unwrap();
    let c = http::request(
        &addr,
        "POST",
        &format!("/photo/{photo}/comments"),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        b"body=via+lighttpd+%3Cb%3E",
    );
    assert_eq!(c.status, 303, "{}", c.text());
    let page = http::request(&builtin.addr, "GET", &format!("/photo/{photo}"), &[], b"");
    assert!(
        page.text().contains("via lighttpd &#60;b&#62;"),
        "the comment is in the shared database"
    );

    // A new process per request.
    let pid = |r: &http::Resp| r.header("x-served-by").unwrap_or("").to_owned();
    let (x, y) = (
        http::request(&addr, "GET", "/healthz", &[], b""),
        http::request(&addr, "GET", "/healthz", &[], b""),
    );
    assert_ne!(pid(&x), pid(&y));
}
