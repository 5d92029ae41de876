//! The committed documents and the run they quote.
//!
//! Two kinds of generated text live in the Markdown files:
//! - answer blocks, `<!-- answer: ID -->…<!-- /answer -->` (a lesson's
//!   table and sentences, [`crate::lessons`]);
//! - inline figures, `<!-- fig: KEY ROW… -->14,391<!-- /fig -->`, for a
//!   number that prose quotes ([`fill_figures`]): the same value a lesson
//!   column shows, so a sentence cannot drift from the run it names.
//!
//! `report workshop FILE RAW` rewrites both; `--check` fails when either is
//! stale. The committed run is the one the README's blocks name
//! ([`committed_run`]), never "the newest directory in `results/`": a user's
//! own main job writes a newer one, and the tests must still pass after it.
//!
//! **Invariant:** every figure in a committed document's prose is inside a
//! `fig` span or an answer block, or is the talk's own figure.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use runfiles::Role;

use crate::fmt::fmt_ms;
use crate::lessons::Col;
use crate::{Run, Tool};

const OPEN: &str = "<!-- fig: ";
const CLOSE: &str = "<!-- /fig -->";

/// The run named by the first answer block of `text`: its ``From `NAME` ``
/// line.
pub fn named_run(text: &str) -> Option<String> {
    text.split("<!-- answer: ").skip(1).find_map(|block| {
        let line = block.lines().nth(1)?;
        let rest = line.strip_prefix("From `")?;
        Some(rest[..rest.find('`')?].to_string())
    })
}

/// `results/NAME` for the run README.md's blocks name, under `root` (the
/// repository). An error says what is missing.
pub fn committed_run(root: &Path) -> Result<PathBuf, String> {
    let readme = root.join("README.md");
    let text =
        std::fs::read_to_string(&readme).map_err(|e| format!("{}: {e}", readme.display()))?;
    let name = named_run(&text).ok_or_else(|| {
        format!(
            "{} has no answer block naming its run (``From `NAME` ``)",
            readme.display()
        )
    })?;
    let dir = root.join("results").join(&name);
    if dir.join("raw").join("rows.tsv").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "README.md names the run {name}, but results/{name}/raw/rows.tsv does not exist"
        ))
    }
}

/// Rewrites every `fig` span of `text` from `run`.
pub fn fill_figures(text: &str, run: &Run) -> Result<String, String> {
    rewrite_marked(text, OPEN, CLOSE, |key| figure(run, key))
}

/// Rewrites every `OPEN KEY -->…CLOSE` of `text`: what stands between the
/// marker and `CLOSE` becomes `generate(KEY)`. A marker without its own
/// `CLOSE` (before the next marker) is an error.
pub fn rewrite_marked(
    text: &str,
    open: &str,
    close: &str,
    mut generate: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let body = &after[open.len()..];
        let key_end = body
            .find("-->")
            .ok_or_else(|| format!("a `{}` marker is not closed", open.trim()))?;
        let key = body[..key_end].trim();
        let value_start = key_end + "-->".len();
        let end = body[value_start..]
            .find(close)
            .ok_or_else(|| format!("`{key}` has no `{close}`"))?;
        if body[value_start..value_start + end].contains(open) {
            return Err(format!("`{key}` has no `{close}` before the next marker"));
        }
        let _ = write!(out, "{open}{key} -->{}{close}", generate(key)?);
        rest = &body[value_start + end + close.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The keys of the `fig` spans of `old` whose value `new` changes.
pub fn changed_figures(old: &str, new: &str) -> Vec<String> {
    let spans = |t: &str| -> Vec<(String, String)> {
        t.split(OPEN)
            .skip(1)
            .filter_map(|s| {
                let (key, rest) = s.split_once(" -->")?;
                let (value, _) = rest.split_once(CLOSE)?;
                Some((key.trim().to_string(), value.to_string()))
            })
            .collect()
    };
    let (a, b) = (spans(old), spans(new));
    a.iter()
        .zip(b.iter())
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x.0.clone())
        .collect()
}

/// One figure. Keys, with the row(s) after them:
/// - a lesson column: `rps:TOOL`, `speedup:TOOL`, `p99:TOOL`,
///   `role-us:ROLE`, `cores:ROLE`, `server-us`, `capacity`, `hits`,
///   `fast-enough`, `p99-at:RATE`, `load-us:TOOL`, `gil-bound`, `phase:NAME`;
/// - `ratio:TOOL A B`: A's req/s over B's (`×1.31`);
/// - `us-ratio A B`: A's server µs per request over B's (`9.0`);
/// - `ratio-spread:TOOL A B`: the ratio per repetition, median (range);
/// - `verdict:TOOL A B`: what that range lets a lesson say
///   ([`crate::repeats::Verdict`]);
/// - `took`: the run's total time; `part NAME`: one part of it
///   (timing.tsv, `part build and seed`), as `4 min 11 s`;
/// - `miss-part:PART`: a part of a miss's extra CPU over a stage-3 request
///   ([`crate::miss_shares::figure`]; `miss-part:total`, their sum against
///   the measured miss cost);
/// - `profiler-cost ROW`: the profiler's cost on ROW's req/s, median (range)
///   over the repetitions that profiled it; `perf-cores`: perf's own CPU
///   in cores ([`crate::flame::perf_cores`]);
/// - `errors ROW`: a fault timeline's errors after its warm-up, by status;
/// - `run`: the run's name.
pub fn figure(run: &Run, key: &str) -> Result<String, String> {
    let words: Vec<&str> = key.split_whitespace().collect();
    let (head, args) = words.split_first().ok_or("an empty figure key")?;
    let (name, param) = head.split_once(':').unwrap_or((head, ""));
    let need = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("figure `{key}`: {name} takes {n} row(s)"))
        }
    };
    let missing = || format!("figure `{key}`: the run {} has no such value", run.name);
    match name {
        "run" => {
            need(0)?;
            Ok(run.name.clone())
        }
        "ratio" => {
            need(2)?;
            let t = tool(param, key)?;
            let rps = |r: &str| run.row(r).and_then(|r| r.rps(t));
            match (rps(args[0]), rps(args[1])) {
                (Some(a), Some(b)) if b > 0.0 => Ok(format!("×{:.2}", a / b)),
                _ => Err(missing()),
            }
        }
        "us-ratio" => {
            need(2)?;
            let us = |r: &str| {
                run.cpu
                    .preferred(r, &crate::cpu::PREFERRED)
                    .and_then(|c| c.server_us())
            };
            match (us(args[0]), us(args[1])) {
                (Some(a), Some(b)) if b > 0.0 => Ok(format!("{:.1}", a / b)),
                _ => Err(missing()),
            }
        }
        "ratio-spread" | "verdict" => {
            need(2)?;
            let t = tool(param, key)?;
            let s = crate::repeats::ratio(run, args[0], args[1], t).ok_or_else(missing)?;
            Ok(if name == "verdict" {
                crate::repeats::Verdict::of(&s).words().to_string()
            } else {
                crate::repeats::fmt_spread(&s, |x| format!("×{x:.2}"))
            })
        }
        "took" | "part" => {
            // `took`: the run's total time; `part NAME…`: one line of
            // timing.tsv (`part build and seed`), as `4 min 11 s`.
            let want = if name == "took" {
                need(0)?;
                "total".to_string()
            } else {
                args.join(" ")
            };
            let text =
                std::fs::read_to_string(run.raw_dir.join("timing.tsv")).map_err(|_| missing())?;
            let secs: u64 = text
                .lines()
                .find_map(|l| {
                    let (p, v) = l.split_once('\t')?;
                    (p == want).then(|| v.trim().parse().ok())?
                })
                .ok_or_else(missing)?;
            Ok(format!("{} min {:02} s", secs / 60, secs % 60))
        }
        "miss-part" => {
            need(0)?;
            crate::miss_shares::figure(run, param).ok_or_else(missing)
        }
        "profiler-cost" => {
            need(1)?;
            let s = crate::repeats::Spread::of(crate::flame::costs(run, args[0]))
                .ok_or_else(missing)?;
            Ok(crate::repeats::fmt_spread(&s, |x| format!("{x:.1}%")))
        }
        "perf-cores" => {
            need(0)?;
            let s =
                crate::repeats::Spread::of(crate::flame::perf_cores(run)).ok_or_else(missing)?;
            Ok(crate::repeats::fmt_spread(&s, |x| format!("{x:.3}")))
        }
        "errors" => {
            need(1)?;
            crate::lessons::fault_errors(run, args[0]).ok_or_else(missing)
        }
        "phase" => {
            need(1)?;
            run.row(args[0])
                .and_then(|r| r.phases.as_ref())
                .and_then(|(_, ph)| ph.get(param).copied())
                .map(fmt_ms)
                .ok_or_else(missing)
        }
        _ => {
            need(1)?;
            let col = column(name, param, key)?;
            let v = col.value(run, args[0]);
            if v == "—" { Err(missing()) } else { Ok(v) }
        }
    }
}

fn tool(id: &str, key: &str) -> Result<Tool, String> {
    Tool::ALL
        .into_iter()
        .find(|t| t.id() == id)
        .ok_or_else(|| format!("figure `{key}`: no tool {id:?}"))
}

fn role(id: &str, key: &str) -> Result<Role, String> {
    Role::ALL
        .into_iter()
        .find(|r| r.id() == id)
        .ok_or_else(|| format!("figure `{key}`: no role {id:?}"))
}

fn column(name: &str, param: &str, key: &str) -> Result<Col, String> {
    Ok(match name {
        "rps" => Col::Rps(tool(param, key)?),
        "speedup" => Col::Speedup(tool(param, key)?),
        "p99" => Col::P99(tool(param, key)?),
        "load-us" => Col::LoadUs(tool(param, key)?),
        "role-us" => Col::RoleUs(role(param, key)?),
        "cores" => Col::RoleCores(role(param, key)?),
        "server-us" => Col::ServerUs,
        "capacity" => Col::Capacity,
        "hits" => Col::Hits,
        "fast-enough" => Col::FastEnough,
        "gil-bound" => Col::GilBound,
        "p99-at" => Col::P99At(
            param
                .parse()
                .map_err(|_| format!("figure `{key}`: {param:?} is not a rate"))?,
        ),
        _ => return Err(format!("figure `{key}`: no figure {name:?}")),
    })
}

/// Where the lesson sections (`## Lesson N — …`) of WORKSHOP.md disagree with what their own
/// run prints: a "Fill in" table column that the lesson's table does not
/// have, a row it asks for that the lesson does not run, a lesson row that
/// the answer lacks. One line per problem.
pub fn lesson_problems(workshop: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for lesson in crate::lessons::LESSONS {
        let heading = format!("## Lesson {} — ", lesson.number);
        // A text without the lesson's section (a README, a test's excerpt)
        // has nothing of it to check.
        let Some(start) = workshop.find(&heading) else {
            continue;
        };
        let section = &workshop[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        let headers = crate::lessons::headers(lesson);
        let Some(fill) = section.split("**Fill in").nth(1) else {
            problems.push(format!("lesson {}: no \"Fill in\" table", lesson.number));
            continue;
        };
        let fill = fill.split("**Questions").next().unwrap_or(fill);
        let cells = |l: &str| -> Vec<String> {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        };
        // Every table of the "Fill in" part: its header, then its rows.
        let mut lines = fill.lines().peekable();
        while lines.peek().is_some() {
            let table: Vec<&str> = lines
                .by_ref()
                .skip_while(|l| !l.starts_with('|'))
                .take_while(|l| l.starts_with('|'))
                .collect();
            let Some(head) = table.first() else { break };
            for h in cells(head).iter().skip(1) {
                if !headers.iter().any(|x| x == h) {
                    problems.push(format!(
                        "lesson {}: the \"Fill in\" column {h:?} is not a column of the lesson's table ({})",
                        lesson.number,
                        headers.join(" · ")
                    ));
                }
            }
            for line in table.iter().skip(2) {
                let first = cells(line).into_iter().next().unwrap_or_default();
                let row = first.trim_matches('`');
                let stage_line = row.chars().next().is_some_and(|c| c.is_ascii_digit());
                if !stage_line && !lesson.rows.contains(&row) {
                    problems.push(format!(
                        "lesson {}: the \"Fill in\" row {row:?} is not a row the lesson runs ({})",
                        lesson.number,
                        lesson.rows.join(", ")
                    ));
                }
            }
        }
        if let Some(answer) = crate::lessons::block(section, lesson.id) {
            for row in lesson.rows {
                let shown = answer.contains(&format!("| `{row}` |"))
                    || answer.contains(&format!("- `{row}`"));
                if !shown {
                    problems.push(format!(
                        "lesson {}: the lesson runs `{row}` but its answer has no line for it",
                        lesson.number
                    ));
                }
            }
        }
    }
    problems
}

/// The Markdown files of the repository at `root` that people read (not
/// `target/`, virtual environments or test fixtures).
pub fn markdown_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "fixtures" {
                    walk(&path, out);
                }
            } else if name.ends_with(".md") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

/// Links of `file` (under `root`) that point to nothing in the repository,
/// or outside it, and mentions of a folder a clone does not have. One line
/// per problem.
pub fn link_problems(root: &Path, file: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return vec![format!("{}: unreadable", file.display())];
    };
    let shown = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    if text.contains("../shared") {
        problems.push(format!(
            "{shown}: points into ../shared, which a clone does not have (docs/talk.md has the talk)"
        ));
    }
    for target in text.split("](").skip(1).filter_map(|s| s.split(')').next()) {
        let target = target.split('#').next().unwrap_or("").trim();
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        match dir.join(target).canonicalize() {
            Ok(p) if p.starts_with(&root) => {}
            Ok(_) => problems.push(format!("{shown}: the link {target} leaves the repository")),
            Err(_) => problems.push(format!("{shown}: the link {target} points to nothing")),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_run_is_the_first_blocks_from_line() {
        let text =
            "x\n<!-- answer: summary -->\nFrom `2026-12-02T001031Z-vm` (AMD).\n<!-- /answer -->\n";
        assert_eq!(named_run(text).as_deref(), Some("2026-12-02T001031Z-vm"));
        assert_eq!(named_run("no blocks"), None);
    }

    #[test]
    fn fill_figures_rewrites_spans_only_and_refuses_unknown_keys() {
        let run = Run::empty("test-run");
        let text = "a <!-- fig: run -->old<!-- /fig --> b";
        assert_eq!(
            fill_figures(text, &run).unwrap(),
            "a <!-- fig: run -->test-run<!-- /fig --> b"
        );
        assert_eq!(
            changed_figures(text, &fill_figures(text, &run).unwrap()),
            vec!["run"]
        );
        assert!(fill_figures("<!-- fig: nope x -->1<!-- /fig -->", &run).is_err());
        assert!(
            fill_figures("<!-- fig: rps:wrk -->1<!-- /fig -->", &run).is_err(),
            "no row"
        );
        assert!(
            fill_figures("<!-- fig: rps:wrk stage-2 -->1<!-- /fig -->", &run).is_err(),
            "a figure the run does not have is an error, not a dash"
        );
        assert!(
            fill_figures("<!-- fig: run -->x", &run).is_err(),
            "unclosed"
        );
    }

    #[test]
    fn lesson_problems_names_columns_rows_and_missing_answers() {
        let lesson = &crate::lessons::LESSONS[5]; // 6: don't forget to index
        let headers = crate::lessons::headers(lesson);
        let good_table = format!("| row | {} |\n|---|--:|\n| stage-4 | |\n", headers[0]);
        let answer: String = lesson
            .rows
            .iter()
            .map(|r| format!("| `{r}` | 1 |\n"))
            .collect();
        let text = |table: &str, answer: &str| {
            format!(
                "## Lesson 6 — x\n\n**Fill in:**\n\n{table}\n**Questions:**\n\n<!-- answer: index -->\n{answer}<!-- /answer -->\n\n## After\n"
            )
        };
        let ok = lesson_problems(&text(&good_table, &answer));
        assert!(ok.is_empty(), "{ok:?}");
        let p = lesson_problems(&text(
            "| row | p99 ms (wrk) |\n|---|--:|\n| stage-9 | |\n",
            "| `stage-4` | 1 |\n",
        ));
        assert!(
            p.iter().any(|l| l.contains("column \"p99 ms (wrk)\"")),
            "{p:?}"
        );
        assert!(p.iter().any(|l| l.contains("row \"stage-9\"")), "{p:?}");
        assert!(
            p.iter()
                .any(|l| l.contains("runs `stage-4-noindex` but its answer")),
            "{p:?}"
        );
    }

    #[test]
    fn committed_run_is_the_one_the_readme_names_not_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for run in ["2026-01-01T000000Z-a", "2099-01-01T000000Z-b"] {
            let raw = root.join("results").join(run).join("raw");
            std::fs::create_dir_all(&raw).unwrap();
            std::fs::write(raw.join("rows.tsv"), "id\n").unwrap();
        }
        std::fs::write(
            root.join("README.md"),
            "<!-- answer: summary -->\nFrom `2026-01-01T000000Z-a` (x).\n<!-- /answer -->\n",
        )
        .unwrap();
        assert_eq!(
            committed_run(root).unwrap(),
            root.join("results/2026-01-01T000000Z-a")
        );
        std::fs::write(root.join("README.md"), "no blocks").unwrap();
        assert!(committed_run(root).unwrap_err().contains("no answer block"));
    }

    #[test]
    fn link_problems_finds_dead_outside_and_shared_links() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/talk.md"), "x").unwrap();
        let file = root.join("README.md");
        std::fs::write(
            &file,
            "[a](docs/talk.md) [b](docs/talk.md#x) [c](https://example.org) [d](docs/none.md) [e](../outside.md) `../shared/talk-notes.txt`",
        )
        .unwrap();
        std::fs::write(tmp.path().join("outside.md"), "x").unwrap();
        let p = link_problems(&root, &file);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|l| l.contains("../shared")));
        assert!(
            p.iter()
                .any(|l| l.contains("docs/none.md points to nothing"))
        );
        assert!(p.iter().any(|l| l.contains("../outside.md leaves")));
    }
}
