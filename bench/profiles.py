"""py-spy profiles of the benchmarks: recording, a share table, and an SVG flame graph.

py-spy records "raw" collapsed stacks (`frame;frame;... count`, one line per distinct stack);
this module turns them into the table of docs/benchmarks.md and a self-contained SVG flame
graph (the width of a box is its share of the samples), so one recording gives both.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

FRAME_NAME = re.compile(r" \(.*$")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record_attach(pid: int, seconds: int, output: Path) -> subprocess.Popen | None:
    """Sample a running process (all threads, 100 Hz, without pausing it) into collapsed stacks."""
    spy = py_spy()
    if spy is None:
        return None
    return subprocess.Popen(
        [spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "--nonblocking", "-f", "raw",
         "-o", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def record_command(command: list[str], output: Path) -> list[str]:
    """`command` run under py-spy (collapsed stacks into `output`), or unchanged without py-spy."""
    spy = py_spy()
    if spy is None:
        return command
    return [spy, "record", "-r", "100", "--nonblocking", "-f", "raw", "-o", str(output), "--", *command]


def stacks_read(raw: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit() and stack:
            stacks.append(([frame.strip() for frame in stack.split(";")], int(count)))
    return stacks


def shares(raw: Path, frames: list[tuple[str, str]]) -> dict[str, Any]:
    """Share of all samples whose stack passes through each function of `frames` (inclusive), and
    the functions with the most samples at the top of the stack (self time)."""
    total = 0
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    for frames_of_stack, samples in stacks_read(raw):
        total += samples
        names = [FRAME_NAME.sub("", frame) for frame in frames_of_stack]
        for name in set(names):
            inclusive[name] = inclusive.get(name, 0) + samples
        leaf[names[-1]] = leaf.get(names[-1], 0) + samples
    top = sorted(leaf.items(), key=lambda item: -item[1])[:12]
    return {
        "samples": total,
        "shares": {name: round(100 * inclusive.get(name, 0) / total, 1) if total else 0.0 for name, _ in frames},
        "top_self": [(name, round(100 * count / total, 1)) for name, count in top] if total else [],
    }


def flamegraph_svg(raw: Path, svg: Path, title: str, *, width: int = 1200, row: int = 16) -> None:
    """Write a static SVG flame graph of the collapsed stacks in `raw` (hover a box for its share)."""
    tree: dict[str, Any] = {"children": {}, "count": 0}
    total = 0
    for frames, samples in stacks_read(raw):
        total += samples
        node = tree
        node["count"] += samples
        for frame in frames:
            node = node["children"].setdefault(frame, {"children": {}, "count": 0})
            node["count"] += samples
    boxes: list[str] = []
    depth_max = 0

    def lay(node: dict[str, Any], x: float, depth: int) -> None:
        nonlocal depth_max
        for name, child in sorted(node["children"].items(), key=lambda item: -item[1]["count"]):
            w = width * child["count"] / total
            if w >= 0.3:
                depth_max = max(depth_max, depth)
                label = FRAME_NAME.sub("", name)
                where = name[len(label) :].strip(" ()")
                share = 100 * child["count"] / total
                hue = 20 + (hash(label) % 40)
                text = html.escape(label if w > 7 * len(label) else label[: max(0, int(w / 7) - 1)])
                boxes.append(
                    f"<g><title>{html.escape(label)} {html.escape(where)} — {share:.1f} %</title>"
                    f'<rect x="{x:.1f}" y="{{y{depth}}}" width="{w:.1f}" height="{row - 1}" '
                    f'fill="hsl({hue},85%,62%)"/>'
                    + (f'<text x="{x + 2:.1f}" y="{{t{depth}}}">{text}</text>' if w > 21 else "")
                    + "</g>"
                )
                lay(child, x, depth + 1)
            x += w

    lay(tree, 0.0, 0)
    height = (depth_max + 3) * row
    body = "\n".join(boxes)
    for depth in range(depth_max + 1):  # root at the bottom
        y = height - (depth + 2) * row
        body = body.replace(f"{{y{depth}}}", str(y)).replace(f"{{t{depth}}}", str(y + row - 4))
    svg.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" '
        f'font-size="11"><rect width="100%" height="100%" fill="#fff"/>'
        f'<text x="4" y="14" font-size="13">{html.escape(title)} ({total:,} samples)</text>\n{body}\n</svg>\n',
        encoding="utf-8",
    )
