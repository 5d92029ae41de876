//! The children's output, forwarded to the stage's stderr line by line with
//! a `[name]` prefix — without ever letting a child's output stall the
//! supervisor or fill its memory.
//!
//! - **Lines are capped** at [`MAX_LINE`] bytes: a child that prints an
//!   endless line without a newline costs at most that much memory; the
//!   rest of the line is dropped and the line says so.
//! - **Writing happens on a thread of its own** ([`LogSink`]), fed by a
//!   bounded queue ([`QUEUE`] lines). The supervisor's only thread — which
//!   restarts children and answers SIGINT — never waits on stderr: if
//!   stderr is stuck (a terminal paused with Ctrl-S, a pipe nobody reads),
//!   lines beyond the queue are dropped and counted, and the count is
//!   printed once stderr moves again. The children's pipes keep being
//!   drained either way, so a child never blocks on its own output.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Longest line forwarded; the rest of a longer one is dropped. A log line
/// of ours is under 300 bytes; nginx's error lines under 2 KB.
pub const MAX_LINE: usize = 8 * 1024;

/// Lines waiting for stderr before new ones are dropped: a burst of a
/// few hundred lines (a crash's backtrace, nginx's warnings) fits.
pub const QUEUE: usize = 1024;

/// Where forwarded lines go: a writer thread behind a bounded queue.
#[derive(Clone)]
pub struct LogSink {
    tx: SyncSender<Vec<u8>>,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Lines dropped because the queue was full, not yet reported.
    dropped: AtomicU64,
    /// Lines queued and not yet written.
    pending: AtomicUsize,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("pending", &self.state.pending.load(Ordering::Relaxed))
            .finish()
    }
}

impl LogSink {
    /// A sink writing to the process's stderr.
    pub fn stderr() -> LogSink {
        LogSink::to(Box::new(std::io::stderr()))
    }

    /// A sink writing to `out` from a thread of its own.
    pub fn to(out: Box<dyn Write + Send>) -> LogSink {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let state = Arc::new(State::default());
        let st = state.clone();
        let out = Mutex::new(out);
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                for line in rx {
                    let dropped = st.dropped.swap(0, Ordering::Relaxed);
                    if dropped > 0 {
                        let _ = writeln!(
                            out,
                            "[supervisor] {dropped} log lines dropped: stderr was not keeping up"
                        );
                    }
                    // A closed stderr is no reason to stop draining.
                    let _ = out.write_all(&line);
                    let _ = out.flush();
                    st.pending.fetch_sub(1, Ordering::Relaxed);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the log writer; children's output is dropped");
        }
        LogSink { tx, state }
    }

    /// Queues one line (newline added); drops it if the queue is full.
    pub fn line(&self, line: Vec<u8>) {
        self.state.pending.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.state.pending.fetch_sub(1, Ordering::Relaxed);
                self.state.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped so far and not yet reported.
    pub fn dropped(&self) -> u64 {
        self.state.dropped.load(Ordering::Relaxed)
    }

    /// Waits up to `limit` for the queued lines to be written (at exit, so
    /// a child's last words before a failed start are not lost; a stuck
    /// stderr costs `limit`, never a hang).
    pub async fn drain(&self, limit: Duration) {
        let end = Instant::now() + limit;
        while self.state.pending.load(Ordering::Relaxed) > 0 && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Reads `from` to its end, handing each line (at most [`MAX_LINE`] bytes
/// of it, prefixed with `[name] `, ending in a newline) to `sink`.
pub async fn forward(name: &str, from: impl AsyncRead + Unpin, sink: &LogSink) {
    let prefix = format!("[{name}] ");
    let mut r = BufReader::with_capacity(16 * 1024, from);
    let mut line = Vec::with_capacity(256);
    let mut cut = false;
    let emit = |line: &mut Vec<u8>, cut: &mut bool| {
        let mut out = Vec::with_capacity(prefix.len() + line.len() + 40);
        out.extend_from_slice(prefix.as_bytes());
        let text = String::from_utf8_lossy(line);
        out.extend_from_slice(text.trim_end().as_bytes());
        if *cut {
            out.extend_from_slice(format!(" […] (line cut at {MAX_LINE} bytes)").as_bytes());
        }
        out.push(b'\n');
        sink.line(out);
        line.clear();
        *cut = false;
    };
    loop {
        let buf = match r.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(b) => b,
        };
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        let room = MAX_LINE - line.len();
        if chunk.len() > room {
            line.extend_from_slice(&chunk[..room]);
            cut = true;
        } else {
            line.extend_from_slice(chunk);
        }
        let used = chunk.len() + usize::from(newline);
        r.consume(used);
        if newline {
            emit(&mut line, &mut cut);
        }
    }
    if !line.is_empty() || cut {
        emit(&mut line, &mut cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that collects what it gets.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<u8>>>);
    impl Write for Collect {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lines_are_prefixed_and_an_endless_one_is_cut() {
        let out = Collect::default();
        let sink = LogSink::to(Box::new(out.clone()));
        let mut input = b"first\nsecond line\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', 3 * MAX_LINE + 17));
        input.extend_from_slice(b"\nlast without newline");
        forward("i0", &input[..], &sink).await;
        sink.drain(Duration::from_secs(5)).await;
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[i0] first");
        assert_eq!(lines[1], "[i0] second line");
        assert!(
            lines[2].starts_with("[i0] aaaa") && lines[2].ends_with("(line cut at 8192 bytes)")
        );
        assert!(lines[2].len() < MAX_LINE + 100, "{}", lines[2].len());
        assert_eq!(lines[3], "[i0] last without newline");
        assert_eq!(lines.len(), 4);
    }

    #[tokio::test]
    async fn a_stuck_writer_drops_lines_instead_of_blocking() {
        // A pipe nobody reads: the writer thread blocks once it is full.
        let (reader, writer) = std::io::pipe().unwrap();
        let sink = LogSink::to(Box::new(writer));
        let t = Instant::now();
        let spam = "x".repeat(200) + "\n";
        let input = spam.repeat(20_000); // 4 MB: far more than the pipe and the queue hold
        forward("spam", input.as_bytes(), &sink).await;
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "forwarding waited for stderr"
        );
        assert!(sink.dropped() > 0, "lines beyond the queue are dropped");
        let t = Instant::now();
        sink.drain(Duration::from_millis(200)).await;
        assert!(t.elapsed() < Duration::from_secs(2), "drain is bounded");
        drop(reader);
    }
}
