#!/usr/bin/env python3
"""Lists the longest non-test functions of crates/*/src (lines from `fn` to
its closing brace), longest first; exits 1 if any is over the limit.

    scripts/long-functions.py [--limit 120] [--top 10]

A rough reader, not a parser: it strips comments, strings and char
literals, then matches braces. Test code is skipped: `#[cfg(test)]` items
(a `mod tests` block) and `#[test]` functions.
"""
import argparse
import pathlib
import re
import sys

FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")


def blank_literals(text: str) -> str:
    """Replaces comments, strings and chars by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = '"' + hashes
            j = text.find(end, i + 2 + len(hashes))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|\\x..|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def match_brace(text: str, open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(text) - 1


def functions(path: pathlib.Path):
    text = blank_literals(path.read_text())
    skip = []  # (start, end) offsets of test code
    for m in re.finditer(r"#\[cfg\(test\)\]|#\[test\]", text):
        b = text.find("{", m.end())
        if b >= 0:
            skip.append((m.start(), match_brace(text, b)))
    for m in FN.finditer(text):
        if any(a <= m.start() <= b for a, b in skip):
            continue
        b = text.find("{", m.end())
        semi = text.find(";", m.end())
        if b < 0 or (0 <= semi < b):
            continue  # a declaration without a body
        end = match_brace(text, b)
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, end) + 1
        yield last - first + 1, f"{path}:{first}", m.group(1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=120)
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args()
    root = pathlib.Path(__file__).resolve().parent.parent
    found = []
    for p in sorted(root.glob("crates/*/src/**/*.rs")):
        found.extend((n, str(pathlib.Path(w).relative_to(root)) if w.startswith(str(root)) else w, f)
                     for n, w, f in functions(p))
    found.sort(reverse=True)
    for n, where, name in found[: a.top]:
        print(f"{n:5} {where} {name}")
    over = [f for f in found if f[0] > a.limit]
    print(f"{len(over)} non-test function(s) over {a.limit} lines")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
