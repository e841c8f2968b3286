#!/usr/bin/env python3
"""e2e/docs-check.py: run the documentation's commands as a reader pastes them.

    e2e/docs-check.py [--list] [--from FILE:LINE] [FILE.md ...]

Every runnable block of the given Markdown files (default: README.md, then docs/*.md in name
order) runs in order in ONE bash session from the repository root, as if pasted into one
terminal: what a block exports (KUBECONFIG, PATH, variables) and starts in the background stays
for the blocks after it. The session starts without KUBECONFIG, like a new terminal.

Which blocks run, and what is checked:

* ```sh / ```bash / ```shell blocks run as they are; every command must succeed (bash with
  `set -e -o pipefail`; the first failing command fails the check, named with its file and line).
* ```console blocks hold `$ command` lines (a line ending in `\\` continues on the next), each
  followed by the output the reader will see (stdout and stderr together). That output is
  compared with what the command prints, line by line, runs of blanks folded to one space and
  trailing blanks ignored. In the expected output, a line that is only `...` stands for any
  number of lines, and `...` inside a line for any text. A command must exit 0 unless its line
  ends with a comment `# exits N` (then it must exit N).
* A runnable block whose first line is a comment `# illustrative: <why>` is not run; the check
  says so. Other fences (json, yaml, text, none) are data, never run.

Each block gets at most DOCS_BLOCK_TIMEOUT seconds (default 900; the first `make` may build for
longer: set it higher on a cold machine). At the end, background jobs the blocks started are
stopped. The last line is `docs: N passed, N failed, N skipped` (one per block); exit 0 only
if none failed.

Why a script of our own: the tools that run shell blocks of Markdown either do not compare
output (mktestdocs), only run Rust (mdBook), or drive an interactive shell through a pty
(byexample), which makes `kubectl` and `helm` print differently than in a real terminal
pipeline and adds a PyPI dependency to CI for ~300 lines of behaviour we need to control
(timeouts, one session across files, skip rules).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = {"sh", "bash", "shell", "console"}
ILLUSTRATIVE = re.compile(r"^\s*#\s*illustrative\b:?\s*(.*)$", re.IGNORECASE)
EXITS = re.compile(r"#.*\bexits\s+(\d+)\b[^#]*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)(.*)$")
MARK = "\x1eDOCS"


@dataclasses.dataclass
class Command:
    line: int  # 1-based line in the Markdown file of its `$ `
    text: str  # the command, continuation lines joined as written
    expected: list[str]
    exit_code: int


@dataclasses.dataclass
class Block:
    path: str
    line: int  # 1-based line of the opening fence
    lang: str
    body: list[str]
    skip: str | None = None
    commands: list[Command] = dataclasses.field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


class DocError(Exception):
    pass


def parse_blocks(path: Path, rel: str) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            # a block inside a list item is indented: drop the fence's indentation
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        if i == len(lines):
            raise DocError(f"{rel}:{start + 1}: code block is never closed")
        i += 1
        if lang not in RUNNABLE:
            continue
        block = Block(rel, start + 1, lang, body)
        first = next((b for b in body if b.strip()), "")
        im = ILLUSTRATIVE.match(first)
        if im:
            block.skip = im.group(1).strip() or "illustrative"
        elif lang == "console":
            block.commands = parse_console(block)
        blocks.append(block)
    return blocks


def parse_console(block: Block) -> list[Command]:
    commands: list[Command] = []
    body = block.body
    j = 0
    while j < len(body):
        line = body[j]
        if not line.startswith("$ "):
            if commands:
                commands[-1].expected.append(line)
            elif line.strip():
                raise DocError(f"{block.path}:{block.line + 1 + j}: console block output before any `$ ` command")
            j += 1
            continue
        first = block.line + 1 + j
        text = [line[2:]]
        while text[-1].endswith("\\") and j + 1 < len(body):
            j += 1
            text.append(body[j])
        m = EXITS.search(text[-1])
        commands.append(Command(first, "\n".join(text), [], int(m.group(1)) if m else 0))
        j += 1
    if not commands:
        raise DocError(f"{block.where}: console block has no `$ ` command")
    for c in commands:
        while c.expected and not c.expected[-1].strip():
            c.expected.pop()
    return commands


# --- output comparison ---------------------------------------------------------------------

def norm(line: str) -> str:
    return re.sub(r"\s+", " ", line).strip()


def line_matches(want: str, got: str) -> bool:
    want, got = norm(want), norm(got)
    if "..." not in want:
        return want == got
    pattern = ".*".join(re.escape(p) for p in want.split("..."))
    return re.fullmatch(pattern, got, re.DOTALL) is not None


def output_matches(want: list[str], got: list[str]) -> bool:
    """`want` against `got`; a `...` line matches any run of lines (backtracking, small inputs)."""
    want = [w for w in want]
    got = [g for g in got]
    while got and not got[-1].strip():
        got.pop()
    memo: dict[tuple[int, int], bool] = {}

    def m(i: int, j: int) -> bool:
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(want):
            r = j == len(got)
        elif norm(want[i]) == "...":
            r = any(m(i + 1, k) for k in range(j, len(got) + 1))
        else:
            r = j < len(got) and line_matches(want[i], got[j]) and m(i + 1, j + 1)
        memo[key] = r
        return r

    return m(0, 0)


# --- the session script --------------------------------------------------------------------

PRELUDE = r"""
set -eE -o pipefail
__docs_failed() {
  local rc=$?
  printf '%s FAIL %s %s %s\n' "$__docs_mark" "$1" "$rc" "$BASH_COMMAND"
  exit "$rc"
}
trap '__docs_failed $LINENO' ERR
__docs_cleanup() {
  local pids
  pids=$(jobs -p)
  if [[ -n $pids ]]; then
    printf '%s INFO stopping what the blocks left running in the background: %s\n' "$__docs_mark" "$(jobs | tr '\n' ';')"
    kill $pids 2>/dev/null || true
    wait $pids 2>/dev/null || true
  fi
}
trap __docs_cleanup EXIT
"""


def heredoc_tag(text: str) -> str:
    n = 0
    while f"__DOCS_{n}__" in text:
        n += 1
    return f"__DOCS_{n}__"


def session_script(blocks: list[Block], outdir: Path) -> tuple[str, dict[int, str]]:
    """The session, and for each of its lines that comes from a sh block, the doc's file:line."""
    out = [f"__docs_mark={shlex.quote(MARK)}", PRELUDE]
    lines_of: dict[int, str] = {}

    def count() -> int:
        return sum(chunk.count("\n") + 1 for chunk in out)
    for b_index, b in enumerate(blocks):
        if b.skip is not None:
            out.append(f"printf '%s SKIP {b_index}\\n' \"$__docs_mark\"")
            continue
        out.append(f"printf '%s BLOCK {b_index}\\n' \"$__docs_mark\"")
        if b.lang != "console":
            first = count() + 1
            for k in range(len(b.body)):
                lines_of[first + k] = f"{b.path}:{b.line + 1 + k}"
            out.append("\n".join(b.body))
            out.append("true")
        else:
            for c_index, c in enumerate(b.commands):
                where = f"{b.path}:{c.line}"
                res = outdir / f"{b_index}.{c_index}"
                out.append(f"__docs_where={shlex.quote(where)}")
                out.append(f"printf '%s CMD {b_index} {c_index}\\n' \"$__docs_mark\"")
                # The command runs in this shell (its exports last), its output to a file; a
                # failure is judged against `# exits N`, not by the ERR trap.
                out.append("set +eE; trap - ERR")
                out.append("{\n" + c.text + "\n} >" + shlex.quote(str(res) + ".out") + " 2>&1 </dev/null")
                out.append(f"echo $? >{shlex.quote(str(res) + '.rc')}")
                out.append("set -eE; trap '__docs_failed $LINENO' ERR")
        out.append(f"printf '%s DONE {b_index}\\n' \"$__docs_mark\"")
    return "\n".join(out) + "\n", lines_of


def run(blocks: list[Block], timeout: float, verbose: bool, root: Path = ROOT,
        keep_going: bool = False) -> tuple[int, int, int]:
    passed = failed = 0
    skipped = sum(1 for b in blocks if b.skip is not None)
    with tempfile.TemporaryDirectory(prefix="docs-check.") as tmp:
        outdir = Path(tmp)
        script = outdir / "session.sh"
        text, lines_of = session_script(blocks, outdir)
        script.write_text(text)
        # A new terminal: the README exports KUBECONFIG itself, and nothing of an outer `make`
        # (its flags, job server, level) leaks into the `make` commands the docs run.
        env = {k: v for k, v in os.environ.items()
               if k not in ("KUBECONFIG", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        proc = subprocess.Popen(
            ["bash", str(script)], cwd=root, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        current: int | None = None
        deadline = time.monotonic() + timeout
        failure: str | None = None
        buf = b""

        def finish_block(i: int) -> None:
            nonlocal passed, failed, failure
            b = blocks[i]
            if b.lang != "console":
                passed += 1
                print(f"ok   {b.where}")
                return
            ok = True
            for c_index, c in enumerate(b.commands):
                res = outdir / f"{i}.{c_index}"
                got = res.with_suffix(res.suffix + ".out").read_text(errors="replace").rstrip("\n").split("\n")
                rc = int(res.with_suffix(res.suffix + ".rc").read_text().strip())
                if rc != c.exit_code:
                    ok = False
                    print(f"FAIL {b.path}:{c.line}: exit {rc}, the docs say {c.exit_code}\n  $ {c.text}")
                    print("".join(f"  | {g}\n" for g in got).rstrip("\n"))
                elif not output_matches(c.expected, got):
                    ok = False
                    print(f"FAIL {b.path}:{c.line}: the output differs from the docs\n  $ {c.text}")
                    diff = difflib.unified_diff(c.expected, [g for g in got], "docs", "actual", lineterm="")
                    print("".join(f"  {d}\n" for d in diff).rstrip("\n"))
                elif verbose:
                    print(f"     $ {c.text}")
            if ok:
                passed += 1
                print(f"ok   {b.where}")
            else:
                failed += 1
                if not keep_going:
                    failure = b.where

        try:
            while True:
                if time.monotonic() > deadline:
                    where = blocks[current].where if current is not None else "?"
                    print(f"FAIL {where}: still running after {timeout:.0f} s (DOCS_BLOCK_TIMEOUT)")
                    failure = where
                    failed += 1
                    break
                events = sel.select(timeout=1.0)
                if not events:
                    if proc.poll() is not None:
                        break
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.decode(errors="replace")
                    if not line.startswith(MARK):
                        print(f"  | {line}", flush=True)
                        continue
                    kind, _, rest = line[len(MARK) + 1:].partition(" ")
                    if kind == "SKIP":
                        b = blocks[int(rest)]
                        print(f"skip {b.where} (illustrative: {b.skip})", flush=True)
                    elif kind == "BLOCK":
                        current = int(rest)
                        deadline = time.monotonic() + timeout
                        print(f"run  {blocks[current].where} [{blocks[current].lang}]", flush=True)
                    elif kind == "DONE":
                        finish_block(int(rest))
                        current = None
                        if failure:
                            raise StopIteration
                    elif kind == "FAIL":
                        lineno, rc, command = (rest.split(" ", 2) + ["", ""])[:3]
                        where = lines_of.get(int(lineno)) if lineno.isdigit() else None
                        where = where or (blocks[current].where if current is not None else "?")
                        print(f"FAIL {where}: exit {rc}: {command}", flush=True)
                        failed += 1
                        failure = where
                    elif kind == "INFO":
                        print(f"     {rest}", flush=True)
                    # CMD markers only keep the watchdog honest
                if failure:
                    break
        except StopIteration:
            pass
        finally:
            if proc.poll() is None:
                # stop the session and everything it started (its own process group)
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            proc.wait()
        if not failure and proc.returncode not in (0, None):
            print(f"FAIL the session exited {proc.returncode} after {blocks[current].where if current is not None else 'the last block'}")
            failed += 1
        not_run = sum(1 for b in blocks if b.skip is None) - passed - failed
        if failure and not_run:
            print(f"     {not_run} later block(s) not run: the first failure stops the session, as in a terminal")
    return passed, failed, skipped


SELF_TEST = {
    # name: (markdown, expected (passed, failed, skipped), text the report must contain)
    "pass": ("""```sh
export FOO=bar
sleep 60 >/dev/null &
```
```console
$ echo "$FOO    x"
bar x
$ printf 'a\\nb\\nc\\n'; echo done
a
...
done
$ false    # exits 1
$ echo "sha256:abcd and more" \\
    && echo second
sha256:... and more
second
```
```json
{"never": "run"}
```
```sh
# illustrative: shown, not run
exit 9
```
  ```sh
  echo indented "$FOO"
  ```
""", (3, 0, 1), "stopping what the blocks left running"),
    "output differs": ("""```console
$ echo hello
goodbye
```
```sh
echo never
```
""", (0, 1, 0), "1 later block(s) not run"),
    "unexpected exit": ("""```console
$ true    # exits 2
```
""", (0, 1, 0), "exit 0, the docs say 2"),
    "failing sh line": ("""text
```sh
echo one
false
echo two
```
""", (0, 1, 0), "FAIL t.md:4: exit 1: false"),
    "session exit": ("""```sh
exit 3
```
""", (0, 1, 0), "the session exited 3"),
}


def self_test() -> int:
    """The checker's own cases: each must end as listed, or the check of the docs means nothing."""
    import contextlib
    import io

    bad = 0
    for name, (text, want, needle) in SELF_TEST.items():
        with tempfile.TemporaryDirectory(prefix="docs-check-self.") as tmp:
            root = Path(tmp)
            (root / "t.md").write_text(text)
            report = io.StringIO()
            with contextlib.redirect_stdout(report):
                got = run(parse_blocks(root / "t.md", "t.md"), 30, False, root)
            if got != want or needle not in report.getvalue():
                bad += 1
                print(f"docs-check self-test {name!r}: got {got}, want {want} and {needle!r} in:\n{report.getvalue()}")
    print(f"docs-check self-test: {len(SELF_TEST) - bad} passed, {bad} failed")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--list", action="store_true", help="list the blocks and exit")
    ap.add_argument("--verbose", action="store_true", help="echo every console command")
    ap.add_argument("--root", type=Path, default=ROOT, help="run from this directory (tests)")
    ap.add_argument("--self-test", action="store_true", help="check the checker on its own cases")
    ap.add_argument("--keep-going", action="store_true",
                    help="go on after a console block's output differs (to update the docs in one run)")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    root = args.root.resolve()
    files = args.files or ["README.md"] + sorted(str(p.relative_to(root)) for p in (root / "docs").glob("*.md"))
    blocks: list[Block] = []
    try:
        for f in files:
            blocks += parse_blocks(root / f, f)
    except (DocError, OSError) as e:
        print(f"docs-check: {e}", file=sys.stderr)
        return 2
    if args.list:
        for b in blocks:
            what = f"skip: {b.skip}" if b.skip is not None else (
                f"{len(b.commands)} command(s)" if b.lang == "console" else f"{len(b.body)} line(s)")
            print(f"{b.where}\t{b.lang}\t{what}")
        return 0
    timeout = float(os.environ.get("DOCS_BLOCK_TIMEOUT", "900"))
    passed, failed, skipped = run(blocks, timeout, args.verbose, root, args.keep_going)
    print(f"docs: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
