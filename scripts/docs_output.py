"""Regenerate (or, with --check, verify) the command output recorded in Markdown docs.

A recorded block looks like::

    <!-- run: b12dx kb validate -->
    ```console
    $ b12dx kb validate
    ...output...
    ```

Every ``<!-- run: CMD -->`` marker is followed by a console block holding ``$ CMD`` and the output
the command prints now (``COLUMNS=100``). ``make docs`` rewrites them; the test suite runs the
``--check`` mode, so a stale example fails CI.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- run: (?P<cmd>.+?) -->\n```console\n)(?P<body>.*?)(```)", re.S)


def run(cmd: str) -> str:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    argv = shlex.split(cmd)
    exe = Path(sys.executable).with_name(argv[0])
    if exe.exists():
        argv[0] = str(exe)
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if proc.returncode not in (0,):
        raise SystemExit(f"{cmd!r} exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout


def render(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        out = run(m.group("cmd")).rstrip("\n")
        return f"{m.group(1)}$ {m.group('cmd')}\n{out}\n{m.group(4)}"

    return BLOCK.sub(sub, text)


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for name in FILES:
        path = ROOT / name
        text = path.read_text(encoding="utf-8")
        if "<!-- run:" not in text:
            continue
        new = render(text)
        if new != text:
            stale.append(name)
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        print("stale command output in: " + ", ".join(stale) + " (run `make docs`)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
