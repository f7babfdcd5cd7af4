"""The "## Answer path" section of docs/benchmarks.md and its plots, from one bench/run.py result.

Other sections of the file (`## seed_demo`, ...) are kept as they are.
"""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path
from typing import Any

SECTION = "## Answer path"
DOC_HEADER = """# Benchmarks

Measured on this project's machine kind; each section names its command, so anyone can run it again
(`make bench`). Timings are reported here and never asserted in tests.
"""
ACK_TARGET_MS = 100
LAG_TARGET_MS = 2000
HERD_TARGET_S = 60
MEMORY_TARGET_KIB = 100


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def errors_text(errors: dict[str, int] | None) -> str:
    if not errors:
        return "0"
    return ", ".join(f"{code} ×{count}" for code, count in sorted(errors.items(), key=lambda item: -item[1]))


def server(report: dict[str, Any], name: str, key: str) -> Any:
    return (report.get("servers") or {}).get(name, {}).get(key)


def holds(condition: bool | None) -> str:
    if condition is None:
        return "not measured"
    return "**holds**" if condition else "**missed**"


# --- plots ------------------------------------------------------------------------------------


def plots_make(results: dict[str, Any], plots: Path) -> dict[str, str]:
    """Write the PNG plots; returns {name: file name} of those made."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    scenarios = results.get("scenarios", {})

    steady = scenarios.get("steady") or []
    ramps = (scenarios.get("compare") or {}).get("ramps") or {}
    if steady or ramps:
        figure, axis = plt.subplots(figsize=(7, 4.2))
        if steady:
            sizes = [run["examinees"] for run in steady]
            axis.plot(
                sizes, [run["ack_p99_ms"] for run in steady], "o-", color="tab:blue", label="our path, p99 (steady)"
            )
            axis.plot(sizes, [run["ack_p50_ms"] for run in steady], "o--", color="tab:blue", alpha=0.6,
                      label="our path, p50 (steady)")  # fmt: skip
        for label, runs in steady_by_design(scenarios).items():
            if label != ONE_DAPHNE:
                axis.plot([run["examinees"] for run in runs], [run["ack_p99_ms"] for run in runs], "^-",
                          label=f"our path, p99 (steady, {label})")  # fmt: skip
        for target, color, label in (("exam", "tab:green", "our path"), ("naive", "tab:red", "naive design")):
            steps = (ramps.get(target) or {}).get("steps") or []
            if steps:
                axis.plot([s["examinees"] for s in steps], [s["ack_p99_ms"] or float("nan") for s in steps], "s-",
                          color=color, label=f"{label}, p99 (ramp, CPU-pinned daphne)")  # fmt: skip
        axis.axhline(ACK_TARGET_MS, color="grey", linestyle=":", label="target p99 100 ms")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("examinees connected (one save every 5 s each)")
        axis.set_ylabel("answer.ack latency (ms)")
        axis.set_title("Ack latency against examinees")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(plots / "ack_latency.png", dpi=110)
        plt.close(figure)
        made["ack_latency"] = "ack_latency.png"

    if steady:
        largest = max(steady, key=lambda run: run["examinees"])
        series = largest.get("commit_lag_series") or []
        if series:
            figure, axis = plt.subplots(figsize=(7, 3.6))
            axis.plot([point[0] for point in series], [point[1] for point in series], ".", markersize=2, alpha=0.5)
            axis.axhline(LAG_TARGET_MS / 1000, color="grey", linestyle=":", label="target p99 2 s")
            axis.set_xlabel("seconds since the generator started")
            axis.set_ylabel("commit lag (s)")
            axis.set_title(f"Commit lag over time, steady exam of {largest['examinees']:,} examinees")
            axis.grid(True, alpha=0.3)
            axis.legend(fontsize=7)
            figure.tight_layout()
            figure.savefig(plots / "commit_lag.png", dpi=110)
            plt.close(figure)
            made["commit_lag"] = "commit_lag.png"

    soak = scenarios.get("soak") or {}
    timeline = soak.get("timeline") or []
    if timeline:
        start = timeline[0]["t"]
        minutes = [(point["t"] - start) / 60 for point in timeline]
        figure, axis = plt.subplots(figsize=(7, 3.8))
        for name, color in (("daphne", "tab:blue"), ("worker", "tab:orange"), ("redis", "tab:purple")):
            values = [point.get(name, {}).get("rss", 0) / 2**20 for point in timeline]
            if any(values):
                axis.plot(minutes, values, color=color, label=f"{name} RSS")
        used = [point.get("redis_used_memory", 0) / 2**20 for point in timeline]
        if any(used):
            axis.plot(minutes, used, color="tab:purple", linestyle="--", label="Redis used_memory")
        axis.set_xlabel("minutes")
        axis.set_ylabel("MiB")
        axis.set_title(f"Memory over the soak ({soak.get('examinees', 0):,} examinees)")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(plots / "soak_memory.png", dpi=110)
        plt.close(figure)
        made["soak_memory"] = "soak_memory.png"

    rounds = (scenarios.get("compare") or {}).get("rounds") or {}
    if any(rounds.values()):
        labels, medians, lows, highs = [], [], [], []
        for target, label in (("echo", "bare echo"), ("exam", "our path"), ("naive", "naive design")):
            values = [run["saves_per_second"] for run in rounds.get(target, [])]
            if values:
                labels.append(label)
                medians.append(statistics.median(values))
                lows.append(statistics.median(values) - min(values))
                highs.append(max(values) - statistics.median(values))
        figure, axis = plt.subplots(figsize=(6, 3.6))
        axis.bar(
            labels, medians, yerr=[lows, highs], capsize=6, color=["tab:grey", "tab:blue", "tab:red"][: len(labels)]
        )
        axis.set_ylabel("messages answered per second")
        axis.set_title("One daphne process, same clients (median, min–max)")
        axis.grid(True, axis="y", alpha=0.3)
        figure.tight_layout()
        figure.savefig(plots / "throughput.png", dpi=110)
        plt.close(figure)
        made["throughput"] = "throughput.png"

    curve = reconnect_curve(scenarios.get("reconnect") or {})
    if curve and curve["offsets"]:
        offsets = curve["offsets"]
        figure, axis = plt.subplots(figsize=(6, 3.6))
        axis.plot(offsets, [100 * (index + 1) / curve["population"] for index in range(len(offsets))])
        axis.set_xlabel("seconds since daphne was killed")
        axis.set_ylabel("% of examinees connected and recovered")
        axis.set_title(f"Reconnect storm of {curve['population']:,}")
        axis.grid(True, alpha=0.3)
        figure.tight_layout()
        figure.savefig(plots / "reconnect.png", dpi=110)
        plt.close(figure)
        made["reconnect"] = "reconnect.png"

    runs = [run for run in herd_runs(scenarios) if run.get("ready_times")]
    if runs:
        figure, axis = plt.subplots(figsize=(6, 3.6))
        for run in runs:
            times = sorted(run["ready_times"])
            everyone = run.get("examinees") or len(times)
            axis.plot(times, [100 * (index + 1) / everyone for index in range(len(times))],
                      label=f"{run.get('examinees', 0):,} on daphne × {run.get('processes', 1)}")  # fmt: skip
        axis.axvline(HERD_TARGET_S, color="grey", linestyle=":", label="target 60 s")
        axis.set_xlabel("seconds from the start of the herd")
        axis.set_ylabel("% of examinees signed in, connected, recovered")
        axis.set_title("Exam-start herd")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(plots / "herd.png", dpi=110)
        plt.close(figure)
        made["herd"] = "herd.png"
    return made


# --- text ---------------------------------------------------------------------------------------


def steady_table(runs: list[dict[str, Any]]) -> str:
    head = (
        "| examinees | in / ready after (s) | saves/s | ack p50 / p99 / max (ms) | heartbeat p99 (ms) "
        "| commit lag p50 / p99 (ms) "
        "| errors | lost | daphne CPU % | daphne RSS (MiB) | KiB per examinee | worker CPU % | Redis CPU % "
        "| PostgreSQL CPU % | generator CPU % |\n"
        "| ---: | ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    rows = []
    for run in runs:
        rows.append(
            f"| {fmt(run['examinees'])} | {fmt(run.get('ready'))} / {fmt(run['ready_seconds'], 1)} "
            f"| {fmt(run['saves_per_second'], 1)} "
            f"| {fmt(run['ack_p50_ms'], 1)} / {fmt(run['ack_p99_ms'], 1)} / {fmt(run['ack_max_ms'], 1)} "
            f"| {fmt(run['heartbeat_p99_ms'], 1)} | {fmt(run['commit_lag_p50_ms'])} / {fmt(run['commit_lag_p99_ms'])} "
            f"| {errors_text(run.get('errors'))} | {fmt(run.get('lost'))} "
            f"| {fmt(server(run, 'daphne', 'cpu_percent'), 1)} | {fmt(server(run, 'daphne', 'rss_end_mib'), 1)} "
            f"| {fmt((run.get('memory_per_examinee_kib') or {}).get('daphne'), 1)} "
            f"| {fmt(server(run, 'worker', 'cpu_percent'), 1)} | {fmt(server(run, 'redis', 'cpu_percent'), 1)} "
            f"| {fmt(server(run, 'postgres', 'cpu_percent'), 1)} | {fmt(server(run, 'loadgen', 'cpu_percent'), 1)} |"
        )
    return head + "\n" + "\n".join(rows)


ONE_DAPHNE = "daphne × 1"


def design_label(run: dict[str, Any]) -> str:
    """The server a run was served by: "daphne × 1", "uvicorn × 2" (runs before --servers were daphne)."""
    return f"{run.get('server', 'daphne')} × {run.get('processes', 1)}"


def steady_by_design(scenarios: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The steady runs by server and number of its processes sharing one port (daphne × 1: the
    `steady` scenario first)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in [*(scenarios.get("steady") or []), *(scenarios.get("steady_processes") or [])]:
        grouped.setdefault(design_label(run), []).append(run)
    for runs in grouped.values():
        runs.sort(key=lambda run: run["examinees"])
    return dict(sorted(grouped.items(), key=lambda item: (item[0] != ONE_DAPHNE, item[0])))


def steady_run_within(run: dict[str, Any]) -> bool:
    """The steady target's bounds on one run of any size: all in, p99 ack and commit lag within target,
    no error, none lost."""
    return (
        (run.get("ready") or 0) >= run["examinees"]
        and (run["ack_p99_ms"] or 1e9) <= ACK_TARGET_MS
        and (run["commit_lag_p99_ms"] or 1e9) <= LAG_TARGET_MS
        and not run.get("errors")
        and run.get("lost") == 0
    )


def steady_run_holds(run: dict[str, Any]) -> bool:
    """The steady target on one run: 10,000 examinees within every bound."""
    return run["examinees"] >= 10000 and steady_run_within(run)


def soak_growth(soak: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """Per series: MiB after the warm-up fifth of the soak, at half-time and at its end."""
    timeline = soak.get("timeline") or []
    window = soak.get("window") or []
    if len(timeline) < 3 or len(window) != 2:
        return {}
    begin, end = window
    points = [
        min(timeline, key=lambda point, at=at: abs(point["t"] - at))
        for at in (begin + (end - begin) / 5, begin + (end - begin) / 2, end)
    ]
    growth = {}
    for name in ("daphne", "worker", "redis"):
        if all(name in point for point in points):
            growth[f"{name} RSS"] = tuple(point[name]["rss"] / 2**20 for point in points)
    if all(point.get("redis_used_memory") for point in points):
        growth["Redis used_memory"] = tuple(point["redis_used_memory"] / 2**20 for point in points)
    return growth


def soak_flat(growth: dict[str, tuple[float, float, float]]) -> bool:
    """Flat: no series grows in the second half by more than 5 % (and 1 MiB) of its half-time value.
    A bounded cache levels off after warm-up; a leak keeps its slope."""
    return all(end <= middle * 1.05 + 1 for _begin, middle, end in growth.values())


def no_pool_lines(extra: dict[str, Any], steady: list[dict[str, Any]]) -> list[str]:
    """The steady run without the connection pool, and what the pool buys against the pooled run of its size."""
    if not extra:
        return []
    lines = [
        "The same at one size without the connection pool (`DATABASE_POOL_MAX_SIZE=0`, `CONN_MAX_AGE=0`: Django",
        "opens a PostgreSQL connection for every database call and closes it after):",
        "",
        steady_table([extra]),
        "",
    ]
    pooled = [run for run in steady if run["examinees"] == extra["examinees"]]
    if pooled:
        run = pooled[0]
        pairs = [
            ("p99 ack", run.get("ack_p99_ms"), extra.get("ack_p99_ms"), "ms"),
            ("p50 ack", run.get("ack_p50_ms"), extra.get("ack_p50_ms"), "ms"),
            ("daphne CPU", server(run, "daphne", "cpu_percent"), server(extra, "daphne", "cpu_percent"), "%"),
            ("PostgreSQL CPU", server(run, "postgres", "cpu_percent"), server(extra, "postgres", "cpu_percent"), "%"),
        ]
        text = "; ".join(
            f"{name} {fmt(pool, 1)} {unit} with the pool, {fmt(none, 1)} {unit} without (**{ratio_text(pool, none)}**)"
            for name, pool, none, unit in pairs
            if pool is not None and none is not None
        )
        lines += [f"What the pool buys at {fmt(extra['examinees'])} examinees (with / without): {text}.", ""]
    return lines


def ratio_text(value: float | None, base: float | None) -> str:
    """`value` as a multiple of `base` ("0.42 ×"), or "–"."""
    if value is None or not base:
        return "–"
    return f"{value / base:.2f} ×"


def recovery_curve(
    kill_at: float, reconnected_at: list[list[float]], population: int
) -> dict[str, Any]:  # fmt: skip
    """Seconds from the kill until 50 %, 99 % and 100 % of `population` examinees had reconnected and recovered.

    `reconnected_at` holds [examinee, when] of every reconnect that ended recovered; each examinee counts
    once, at its first one after the kill. A share not reached is None.
    """
    first: dict[int, float] = {}
    for index, when in reconnected_at:
        if when >= kill_at and (index not in first or when < first[index]):
            first[int(index)] = when
    offsets = sorted(when - kill_at for when in first.values())
    curve: dict[str, Any] = {"population": population, "recovered": len(offsets), "offsets": offsets}
    for key, share in (("p50", 0.5), ("p99", 0.99), ("p100", 1.0)):
        needed = max(1, math.ceil(share * population))
        curve[key] = offsets[needed - 1] if population and len(offsets) >= needed else None
    return curve


def reconnect_curve(reconnect: dict[str, Any]) -> dict[str, Any]:
    kill = reconnect.get("kill") or {}
    if not kill.get("at"):
        return {}
    return recovery_curve(kill["at"], reconnect.get("reconnected_at") or [], int(reconnect.get("ready") or 0))


def herd_runs(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    """The herd runs: one daphne (`herd`), then daphne × N on one port (`herd_processes`)."""
    first = scenarios.get("herd")
    return ([first] if first else []) + list(scenarios.get("herd_processes") or [])


def busy_text(counts: dict[str, Any]) -> str:
    """How many sockets the admission gate sent away (SYS-005) and their mean wait; "–" for runs before it."""
    if "busy_refusals" not in counts:
        return "–"
    refusals = counts["busy_refusals"]
    if not refusals:
        return "0"
    return f"{fmt(refusals)}, {fmt(counts.get('busy_waited_s', 0) / refusals, 1)}"


def herd_run_holds(run: dict[str, Any]) -> bool:
    """Everybody signed in, connected and recovered within HERD_TARGET_S, with no error."""
    return (
        run.get("ready") == run.get("examinees")
        and (run.get("ready_seconds") or HERD_TARGET_S + 1) <= HERD_TARGET_S
        and not run.get("errors_while_starting")
    )


def reconnect_lines(reconnect: dict[str, Any], herd: dict[str, Any], made: dict[str, str]) -> list[str]:
    if not reconnect:
        return []
    kill = reconnect.get("kill") or {}
    curve = reconnect_curve(reconnect)
    lines = ["### Reconnect storm", ""]
    if not curve:
        return lines + ["daphne was not killed in this run (the measurement did not start).", ""]
    restart = kill["listening_at"] - kill["at"] if kill.get("listening_at") else None
    counts = reconnect.get("counts") or {}
    lines += [
        f"{fmt(reconnect.get('examinees'))} examinees connected and saving every 5 s; {fmt(kill.get('after_s'), 0)} s"
        " into the measurement",
        "`bench/run.py` SIGKILLs daphne (no graceful close) and at once starts a new daphne on the same port.",
        "The generator's pages notice the closed socket, reconnect with backoff (0.5 s doubling,",
        "±50 %, up to 10 tries, then again after 2 s), send `recover` and resend their journal of unacknowledged",
        "changes with the next save. Measured from the kill: when each examinee was connected and recovered",
        f"again. Ack latency is over the whole {fmt(reconnect.get('seconds'), 0)} s window, kill included",
        "(saves that got no answer are counted as errors, not as latencies). daphne's CPU is not measured",
        "here (its process changes).",
        "",
        "| connected at the kill | new daphne listening after (s) | 50 % / 99 % / 100 % back after (s) "
        "| recovered | reconnects | sockets closed | saves/s | ack p50 / p99 / max (ms) | errors | lost |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
        f"| {fmt(curve['population'])} | {fmt(restart, 1)} "
        f"| {fmt(curve['p50'], 1)} / {fmt(curve['p99'], 1)} / {fmt(curve['p100'], 1)} "
        f"| {fmt(curve['recovered'])} | {fmt(counts.get('reconnects'))} "
        f"| {fmt(len(reconnect.get('disconnected_at') or []))} | {fmt(reconnect.get('saves_per_second'), 1)} "
        f"| {fmt(reconnect.get('ack_p50_ms'), 1)} / {fmt(reconnect.get('ack_p99_ms'), 1)} "
        f"/ {fmt(reconnect.get('ack_max_ms'), 1)} "
        f"| {errors_text(reconnect.get('errors'))} | {fmt(reconnect.get('lost'))} |",
        "",
    ]
    if kill.get("restart_error"):
        lines += [f"The new daphne did not start: `{' '.join(kill['restart_error'][-300:].split())}`.", ""]
    ratios = []
    if curve["p100"] is not None and restart:
        ratios.append(f"all back {ratio_text(curve['p100'], restart)} the new daphne's start-up")
    if curve["p100"] is not None and herd.get("ready_seconds") and herd.get("examinees"):
        per_herd = herd["ready_seconds"] / herd["examinees"]
        per_storm = curve["p100"] / max(1, curve["population"])
        ratios.append(
            f"per examinee {ratio_text(per_storm, per_herd)} the exam-start herd's ({fmt(herd['examinees'])} "
            f"in {fmt(herd['ready_seconds'], 1)} s, with sign-in)"
        )
    if ratios:
        lines += ["Ratios in this run: " + "; ".join(ratios) + ".", ""]
    if "reconnect" in made:
        lines += [f"![reconnect storm](bench/{made['reconnect']})", ""]
    return lines


def asgi_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and min–max) of one design's runs that did not fail."""
    good = [run for run in runs if not run.get("failed")]
    summary: dict[str, Any] = {"runs": len(good), "failed": len(runs) - len(good)}
    if not good:
        return summary
    for key in ("saves_per_second", "ack_p50_ms", "ack_p99_ms", "asgi_cpu_percent", "asgi_rss_mib", "ready"):
        values = [run[key] for run in good if run.get(key) is not None]
        if values:
            summary[key] = (statistics.median(values), min(values), max(values))
    errors: dict[str, int] = {}
    for run in good:
        for code, count in (run.get("errors") or {}).items():
            errors[code] = errors.get(code, 0) + count
    summary["errors"] = errors
    lost = [run.get("lost") for run in good if run.get("lost") is not None]
    summary["lost"] = sum(lost) if lost else None
    return summary


def spread_text(triple: tuple[float, float, float] | None, digits: int, runs: int) -> str:
    if triple is None:
        return "–"
    middle, low, high = triple
    return fmt(float(middle), digits) + (f" ({fmt(float(low), digits)}–{fmt(float(high), digits)})" if runs > 1 else "")


def asgi_lines(asgi: dict[str, Any]) -> list[str]:
    runs = asgi.get("runs") or {}
    if not runs:
        return []
    repeats = asgi.get("repeats", 1)
    summaries = {design: asgi_summary(design_runs) for design, design_runs in runs.items()}
    base = summaries.get("daphne×1") or {}
    lines = ["### ASGI servers: daphne and uvicorn, one and two processes", ""]
    lines += [
        f"The steady load ({fmt(asgi.get('examinees'))} examinees, a save every 5 s, heartbeats, 10 s warm-up,",
        "then the measured window) against the same application, `exam_platform.asgi:application`, under",
        "four servers; each design gets fresh processes and an emptied Redis. daphne as `make run` starts",
        "it; uvicorn with uvloop, httptools, the websockets sans-I/O protocol, `--ws-max-size 262144` (daphne's",
        "`--websocket-max-message-size`), no access log, no lifespan. Two processes: daphne × 2 both accept",
        "from one listening socket bound by `bench/run.py` and passed with `--fd`; uvicorn × 2 is `--workers 2`",
        "(its supervisor binds the port and hands the socket to both workers). CPU % and RSS are of all the",
        "server's processes together (200 % = both cores; the Celery worker, Redis, PostgreSQL and the",
        "generator share the same two cores).",
        "",
        (f"Medians of {repeats} rounds (min–max in brackets); the rounds alternate the designs."
         if repeats > 1 else
         "**One run of each design** (`--asgi-repeats N` gives medians of N rounds): on this shared machine\n"
         "differences of a few tens of per cent between single runs can be noise."),
        "",
        "| design | runs | ready | saves/s | ack p50 (ms) | ack p99 (ms) | p99 / daphne×1 | saves/s / daphne×1 "
        "| server CPU % | CPU / daphne×1 | server RSS (MiB) | errors | lost |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]  # fmt: skip

    def middle(summary: dict[str, Any], key: str) -> float | None:
        return summary[key][0] if summary.get(key) else None

    for design, summary in summaries.items():
        count = summary["runs"]
        if not count:
            lines.append(f"| {design} | 0 ({summary['failed']} failed) | – | – | – | – | – | – | – | – | – | – | – |")
            continue
        failed = f" ({summary['failed']} failed)" if summary["failed"] else ""
        lines.append(
            f"| {design} | {count}{failed} "
            f"| {spread_text(summary.get('ready'), 0, 1)} "
            f"| {spread_text(summary.get('saves_per_second'), 1, count)} "
            f"| {spread_text(summary.get('ack_p50_ms'), 1, count)} "
            f"| {spread_text(summary.get('ack_p99_ms'), 1, count)} "
            f"| {ratio_text(middle(summary, 'ack_p99_ms'), middle(base, 'ack_p99_ms'))} "
            f"| {ratio_text(middle(summary, 'saves_per_second'), middle(base, 'saves_per_second'))} "
            f"| {spread_text(summary.get('asgi_cpu_percent'), 1, count)} "
            f"| {ratio_text(middle(summary, 'asgi_cpu_percent'), middle(base, 'asgi_cpu_percent'))} "
            f"| {spread_text(summary.get('asgi_rss_mib'), 1, count)} "
            f"| {errors_text(summary.get('errors'))} | {fmt(summary.get('lost'))} |"
        )
    lines += ["", asgi_recommendation(summaries), ""]
    failures = [run["failed"] for design_runs in runs.values() for run in design_runs if run.get("failed")]
    if failures:
        first = " ".join(failures[0][-300:].split())
        lines += [f"Failed runs: {len(failures)}; the first: `{first}`.", ""]
    return lines


ASGI_COMMANDS = {
    "daphne×1": "one daphne process per machine, as `make run` starts it",
    "daphne×2": "two daphne processes per machine accepting from one socket (`daphne --fd`, the socket bound by"
    " systemd socket activation or a supervisor)",
    "uvicorn×1": "`uvicorn --loop uvloop --http httptools --ws websockets-sansio --ws-max-size 262144`",
    "uvicorn×2": "`uvicorn --workers 2 --loop uvloop --http httptools --ws websockets-sansio --ws-max-size 262144`",
}


def asgi_recommendation(summaries: dict[str, dict[str, Any]]) -> str:
    """The production recommendation that this run's numbers support (p99 ack first, then CPU)."""

    def p99(design: str) -> float | None:
        summary = summaries.get(design) or {}
        clean = not summary.get("errors") and summary.get("lost") == 0
        return summary["ack_p99_ms"][0] if summary.get("ack_p99_ms") and clean else None

    measured = {design: p99(design) for design in summaries}
    clean = {design: value for design, value in measured.items() if value is not None}
    if "daphne×1" not in clean:
        return "**Recommendation:** not possible from this run (daphne × 1 had errors, lost versions or no result)."
    best = min(clean, key=lambda design: clean[design])
    daphne_best = min((d for d in clean if d.startswith("daphne")), key=lambda d: clean[d])
    much_better = best.startswith("uvicorn") and clean[best] <= 0.67 * clean[daphne_best]
    text = (
        f"**Recommendation from this run:** the lowest p99 ack without errors or losses is {best} "
        f"({fmt(clean[best], 1)} ms, {ratio_text(clean[best], clean['daphne×1'])} daphne × 1). "
    )
    if much_better:
        text += (
            "uvicorn is much faster for the same code here (p99 "
            f"{ratio_text(clean[best], clean[daphne_best])} the best daphne design, {daphne_best}): serve "
            f"production with {ASGI_COMMANDS.get(best, best)} and keep "
            "daphne working as the card's server (`make run`)."
        )
    else:
        uvicorns = [design for design in clean if design.startswith("uvicorn")]
        if uvicorns:
            uvicorn_best = min(uvicorns, key=lambda design: clean[design])
            text += (
                f"uvicorn is not much faster here (its best, {uvicorn_best}, has p99 "
                f"{ratio_text(clean[uvicorn_best], clean[daphne_best])} the best daphne design's, {daphne_best}; "
                "much faster would be 0.67 × or less): "
            )
        else:
            text += "No uvicorn design ran without errors or losses: "
        text += f"keep daphne, as the design card says: {ASGI_COMMANDS.get(daphne_best, daphne_best)}."
    return text


def options_shown(results: dict[str, Any]) -> list[tuple[str, Any]]:
    options = results.get("options") or {}
    return [(key, value if not isinstance(value, list) else ",".join(map(str, value)))
            for key, value in options.items() if key not in ("write_doc", "database_url")]  # fmt: skip


def section_text(results: dict[str, Any], made: dict[str, str]) -> str:
    facts = results.get("machine", {})
    opts = results.get("options") or {}
    scenarios = results.get("scenarios", {})
    steady = scenarios.get("steady") or []
    herd = scenarios.get("herd") or {}
    flush = scenarios.get("flush") or {}
    compare = scenarios.get("compare") or {}
    redis = scenarios.get("redis") or {}
    soak = scenarios.get("soak") or {}
    profile = results.get("profile") or {}
    lines: list[str] = [SECTION, ""]
    lines += [
        "The answer path of issue 5 under simulated examinees: `bench/loadgen.py` (asyncio, `websockets`, httpx; no",
        "Django) signs in with seed_demo's credentials, connects `/ws/exam/`, recovers, then sends an `answer.sync`",
        "delta every 5 s (±20 %; one or two questions, Korean short answers, rising versions, the protocol's",
        "checksum) and a heartbeat every 25 s, keeps a ledger of every ack and `answer.committed`, and at the end",
        "checks every acknowledged version against ANSWER_DATA and ANSWER_HISTORY (`lost`).",
        "",
        f"- Command: `make bench` (`{results.get('command', 'bench/run.py')}`), {fmt(results.get('wall_seconds'))} s",
        "  in all. Options: " + ", ".join(f"`{key}={value}`" for key, value in options_shown(results)) + ".",
        f"- Date: {results.get('date', '')}" + (f"; code: `{results['commit']}`" if results.get("commit") else ""),
        f"- Machine: {facts.get('nproc')} CPUs ({facts.get('cpu')}), {facts.get('memory')} memory, {facts.get('os')},",
        f"  Python {facts.get('python')}; PostgreSQL {facts.get('postgresql')}; Redis {facts.get('redis')}",
        "  (private, AOF `appendfsync everysec`, noeviction). Load average when the run began:",
        f"  {facts.get('load')}. **The machine is shared with other sessions' test runs**: absolute figures",
        "  move from run to run; the ratios below are measured within the same run.",
        "- Everything on this machine: one daphne process (`exam_platform.asgi`, settings `local` with",
        "  `DJANGO_DEBUG=false`, Django's psycopg connection pool as in production: `DATABASE_POOL_MAX_SIZE` 8;",
        "  the asgi scenario and the × N runs swap the server), a Celery worker (`-c 2`) and beat (the flush is",
        "  rung every second), Redis, PostgreSQL and the load generator, started by `bench/run.py`.",
        '- CPU % is of one core (200 % = both cores); RSS includes a process\'s children; "KiB per examinee" is',
        "  the RSS each further examinee adds to daphne, from when a fifth of them were ready to when all were.",
        "",
    ]

    # Targets ---------------------------------------------------------------------------------
    lines += ["### Targets of issue 5 in this run", ""]
    lines += ["| target | measured | verdict |", "| --- | --- | --- |"]
    by_design = steady_by_design(scenarios)
    if by_design:
        largest_runs = {label: runs[-1] for label, runs in by_design.items()}
        reached = max(run["examinees"] for run in largest_runs.values()) >= 10000
        ok = any(steady_run_holds(run) for runs in by_design.values() for run in runs)
        verdict = holds(ok) if reached else "**not shown** (10,000 not reached)"
        measured = "; ".join(
            f"{label}, largest run {fmt(run['examinees'])} ({fmt(run.get('ready'))} got in): p99 ack "
            f"{fmt(run['ack_p99_ms'], 1)} ms, p99 commit lag {fmt(run['commit_lag_p99_ms'])} ms, errors "
            f"{errors_text(run.get('errors'))}, lost {fmt(run.get('lost'))}"
            for label, run in largest_runs.items()
        )
        lines.append(
            f"| 10,000 examinees, 5 s saves: p99 ack ≤ 100 ms, p99 commit lag ≤ 2 s, errors 0, lost 0 "
            f"| {measured} | {verdict} |"
        )
    herds = herd_runs(scenarios)
    if herds:
        largest = max(run.get("examinees", 0) for run in herds)
        ok = any(run.get("examinees", 0) >= 10000 and herd_run_holds(run) for run in herds)
        verdict = holds(ok) if largest >= 10000 else f"**not shown** (herd of {fmt(largest)})"
        measured = "; ".join(
            f"{design_label(run)}: {fmt(run.get('ready'))} of {fmt(run.get('examinees'))} in "
            f"{fmt(run.get('ready_seconds'), 1)} s, errors {errors_text(run.get('errors_while_starting'))}"
            for run in herds
        )
        lines.append(f"| herd: 10,000 signed in, connected, recovered within 60 s, no error | {measured} | {verdict} |")
    reconnect = scenarios.get("reconnect") or {}
    curve = reconnect_curve(reconnect)
    if curve:
        all_back = curve["recovered"] >= curve["population"] > 0
        lines.append(
            f"| reconnect storm (daphne SIGKILLed with {fmt(curve['population'])} connected): all reconnect and "
            f"recover, lost 0 | {fmt(curve['recovered'])} of {fmt(curve['population'])} recovered, the last after "
            f"{fmt(curve['p100'], 1)} s; lost {fmt(reconnect.get('lost'))} "
            f"| {holds(all_back and reconnect.get('lost') == 0)} |"
        )
    rounds = compare.get("rounds") or {}
    ratio_echo = None
    if rounds.get("echo") and rounds.get("exam"):
        echo, exam = rounds_median(rounds, "echo"), rounds_median(rounds, "exam")
        ratio_echo = exam / echo if echo else None
        lines.append(
            f"| answer-save throughput of one ASGI process ≥ 50 % of the bare Channels echo | {fmt(exam)} against "
            f"{fmt(echo)} messages/s: **{fmt(100 * ratio_echo if ratio_echo else None)} %** | "
            f"{holds(ratio_echo >= 0.5) if ratio_echo is not None else 'not measured'} |"
        )
    ramps = compare.get("ramps") or {}
    if ramps.get("exam") and ramps.get("naive"):
        ours, naive = ramps["exam"]["largest_within"], ramps["naive"]["largest_within"]
        ratio = ours / naive if naive else None
        top = max((step.get("examinees", 0) for ramp in ramps.values() for step in ramp.get("steps") or []), default=0)
        if ratio is None:
            measured, verdict = "", "not measured (the naive design held 100 ms at no step)"
        elif naive >= top:
            # The naive design held the ramp's top step: it would have held more, so no ratio was measured.
            measured = (
                f": the naive design held the ramp's top step, so the ratio is not measured "
                f"(≥ 5 × needs ours ≥ {fmt(5 * naive)})"
            )
            verdict = "**not shown**"
        else:
            measured, verdict = f": {ratio:.1f} ×", holds(ratio >= 5)
        lines.append(
            f"| ≥ 5 × as many examinees as the naive design within p99 100 ms | ours {fmt(ours)}, naive {fmt(naive)}"
            f"{measured} | {verdict} |"
        )
    if flush.get("median"):
        ratio = flush["median"]["ratio"]
        lines.append(
            f"| flush ≥ 50 % of the batched COPY + upsert | {fmt(flush['median']['flush_changes_per_second'])} against "
            f"{fmt(flush['median']['baseline_changes_per_second'])} changes/s: **{100 * ratio:.0f} %** "
            f"| {holds(ratio >= 0.5)} |"
        )
    if steady:
        largest = max(steady, key=lambda run: run["examinees"])
        per = (largest.get("memory_per_examinee_kib") or {}).get("daphne")
        lines.append(
            f"| ≤ 100 KB of ASGI memory per connected examinee | {fmt(per, 1)} KiB "
            f"({fmt(largest.get('ready'))} connected in the {fmt(largest['examinees'])} run) "
            f"| {holds(per is not None and per <= MEMORY_TARGET_KIB)} |"
        )
    growth = soak_growth(soak)
    if growth:
        minutes = (soak.get("window", [0, 0])[1] - soak.get("window", [0, 0])[0]) / 60
        text = "; ".join(
            f"{name} {begin:.0f} → {middle:.0f} → {end:.0f} MiB" for name, (begin, middle, end) in growth.items()
        )
        flat = soak_flat(growth)
        verdict = holds(flat) if minutes >= 29 else f"**not shown** (short soak; {'flat' if flat else 'growing'})"
        lines.append(
            f"| Redis and process memory flat over a 30-minute soak after warm-up | {minutes:.0f}-minute soak: {text} "
            f"| {verdict} |"
        )
    lines.append("")

    failed = {key[: -len("_failed")]: text for key, text in scenarios.items() if key.endswith("_failed")}
    if failed:
        lines += ["### Scenarios that failed in this run", ""]
        for name, text in failed.items():
            last = " ".join(str(text).strip().splitlines()[-1:] or [""])[-300:]
            lines.append(f"- `{name}`: `{last}` (the raw result holds the whole message)")
        lines.append("")

    # Steady --------------------------------------------------------------------------------
    if steady:
        lines += ["### Steady exam", ""]
        lines += [
            f"N examinees started at {fmt(opts.get('connect_rate', 100))} per second (at most "
            f"{fmt(opts.get('connect_concurrency', 50))} starting at once; whoever is not in",
            f"after {fmt(opts.get('start_deadline'))} s is given up and counted), 10 s of warm-up, then "
            f"{fmt(steady[0].get('seconds'), 0)} s measured; then the",
            "generator waits with the sockets open until the answer queue is drained and checks the database.",
            "",
            steady_table(steady),
            "",
        ]
        lines += no_pool_lines(scenarios.get("steady_no_pool") or {}, steady)
        for label, runs in by_design.items():
            if label != ONE_DAPHNE:
                lines += [
                    f"The same load on {label} sharing one port (`--steady-processes`, `--servers`); the daphne "
                    f"columns are the sums of the {label.split(' ')[0]} processes:",
                    "",
                    steady_table(runs),
                    "",
                ]
        if "ack_latency" in made:
            lines += [f"![ack latency against examinees](bench/{made['ack_latency']})", ""]
        if "commit_lag" in made:
            lines += [f"![commit lag over time](bench/{made['commit_lag']})", ""]

    # Herd ----------------------------------------------------------------------------------
    if herds:
        lines += ["### Exam-start herd", ""]
        lines += [
            "All the run's examinees start together (no pacing): sign-in over HTTP, socket, `recover`. Each page",
            "sends a heartbeat from then on, and its first answer once the examinee has read the first question:",
            f"{fmt(herds[-1].get('first_answer_after', 0), 0)} s (× 0.5–1.5) after it was ready (`--herd-first-answer`;"
            " 0 in runs before it), then every 5 s.",
            "",
            "| server | examinees | all ready after (s) | per examinee p50 / p99 (s) "
            "| of which signed in p50 / p99 (s) | recover p99 (ms) "
            "| told to come back (SYS-005), mean wait (s) "
            "| errors while starting | server CPU % while starting | PostgreSQL CPU % |",
            "| --- | ---: | ---: | --- | --- | ---: | --- | --- | ---: | ---: |",
        ]
        for run in herds:
            servers = run.get("servers_after_ready") or {}
            lines.append(
                f"| {design_label(run)} | {fmt(run.get('examinees'))} ({fmt(run.get('ready'))} ready) "
                f"| {fmt(run.get('ready_seconds'), 1)} "
                f"| {fmt(run.get('ready_p50_s'), 2)} / {fmt(run.get('ready_p99_s'), 2)} "
                f"| {fmt(run.get('signed_in_p50_s'), 2)} / {fmt(run.get('signed_in_p99_s'), 2)} "
                f"| {fmt(run.get('recover_p99_ms'))} "
                f"| {busy_text(run.get('counts') or {})} "
                f"| {errors_text(run.get('errors_while_starting'))} "
                f"| {fmt(servers.get('daphne', {}).get('cpu_percent'), 1)} "
                f"| {fmt(servers.get('postgres', {}).get('cpu_percent'), 1)} |"
            )
        lines += [
            "",
            "Each process lets at most `EXAM_ADMISSION_IN_FLIGHT` examinees get ready at once; the next wait in",
            "line, and one who would wait longer than `EXAM_ADMISSION_MAX_WAIT_SECONDS` is told to come back",
            "later (SYS-005 with `retryAfter`, close 4503: `answers/admission.py`). The generator waits that out",
            'as the page does; it is not an error. Runs before the gate show "–" there.',
            "",
            "More than one process: daphne × N accept from one listening socket (`--fd`) and uvicorn × N is its",
            "`--workers N`, as in the asgi scenario; the CPU column is all of them together (100 % = one core).",
            "",
        ]
        if "herd" in made:
            lines += [f"![herd](bench/{made['herd']})", ""]

    lines += reconnect_lines(reconnect, herd, made)
    lines += asgi_lines(scenarios.get("asgi") or {})

    # Flush ---------------------------------------------------------------------------------
    if flush.get("runs"):
        lines += ["### Flush throughput", ""]
        lines += [
            f"{fmt(flush['runs'][0]['entries'])} queued saves of one change each over {fmt(flush.get('examinees'))}",
            "examinees, put into the answer stream by the real sync service (`answer_sync_prepare` + the Lua",
            "script), then drained by `answer_queue_flush` (the Celery task's code, called in-process; ANSWER_DATA,",
            "ANSWER_HISTORY, QUESTION_METADATA, SOLVING_STATS, XACK, commit marks and doorbells). The baseline",
            f"writes the same changes with one transaction per {fmt(flush.get('batch'))}: COPY into ANSWER_HISTORY,",
            "COPY into a temporary table, one `INSERT ... ON CONFLICT` into ANSWER_DATA (no metadata, no",
            "statistics, no Redis). Same database, same run.",
            "",
            "| run | flush (s) | flush changes/s | baseline (s) | baseline changes/s | flush / baseline |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for number, run in enumerate(flush["runs"], 1):
            lines.append(
                f"| {number} | {run['flush_seconds']:.2f} | {fmt(run['flush_changes_per_second'])} "
                f"| {run['baseline_seconds']:.2f} | {fmt(run['baseline_changes_per_second'])} "
                f"| {100 * run['ratio']:.0f} % |"
            )
        flush_rates = [run["flush_changes_per_second"] for run in flush["runs"]]
        base_rates = [run["baseline_changes_per_second"] for run in flush["runs"]]
        ratios = [run["ratio"] for run in flush["runs"]]
        lines += [
            "",
            f"**Median: flush {fmt(statistics.median(flush_rates))} changes/s, baseline "
            f"{fmt(statistics.median(base_rates))} changes/s, {100 * statistics.median(ratios):.0f} %** (spread "
            f"{fmt(min(flush_rates))}–{fmt(max(flush_rates))}, {fmt(min(base_rates))}–{fmt(max(base_rates))}, "
            f"{100 * min(ratios):.0f}–{100 * max(ratios):.0f} %; {len(ratios)} runs).",
            "",
        ]

    # Compare -------------------------------------------------------------------------------
    if rounds:
        lines += ["### Transport limit, our path, naive design (side by side)", ""]
        lines += [
            "One daphne serving `bench/compare_asgi.py` (the platform's application plus `/ws/bench/echo/`, a bare",
            "Channels consumer that sends every frame back, and `/ws/bench/naive/`, which writes every save straight",
            "into ANSWER_DATA with one upsert per answer, autocommit, before replying)"
            + (", pinned to CPU 0; the load generator pinned to CPU 1; Redis, PostgreSQL and Celery unpinned." if
               compare.get("pinned") else "."),
            f"Closed loop: {fmt(compare.get('connections'))} sockets, each sending its next `answer.sync` as soon",
            "as the previous one is answered; the rounds alternate echo, ours, naive. "
            + (
                "The exam socket's flood limit (`EXAM_SOCKET_MESSAGES_PER_SECOND`, 20 a second) is lifted for"
                " this server: a closed-loop client goes over it."
                if compare.get("message_budget_lifted")
                else "The exam socket's flood limit (20 a second) was in force in this run: the SYS-003 errors"
                " are the closed-loop clients going over it, each answered at once and not counted as a save."
            ),
            "",
            "| design | messages/s per round | median | ack p50 / p99 (ms), median round | daphne CPU % "
            "| generator CPU % "
            "| errors | lost |",
            "| --- | --- | ---: | --- | ---: | ---: | --- | ---: |",
        ]  # fmt: skip
        for target, label in (("echo", "bare Channels echo"), ("exam", "our path (/ws/exam/)"),
                              ("naive", "naive design")):  # fmt: skip
            runs = rounds.get(target) or []
            if not runs:
                continue
            rates = [run["saves_per_second"] for run in runs]
            middle = sorted(runs, key=lambda run: run["saves_per_second"])[len(runs) // 2]
            errors: dict[str, int] = {}
            for run in runs:
                for code, count in (run.get("errors") or {}).items():
                    errors[code] = errors.get(code, 0) + count
            lost = [run.get("lost") for run in runs if run.get("lost") is not None]
            lines.append(
                f"| {label} | {', '.join(fmt(rate) for rate in rates)} | **{fmt(statistics.median(rates))}** "
                f"| {fmt(middle['ack_p50_ms'], 1)} / {fmt(middle['ack_p99_ms'], 1)} "
                f"| {fmt(server(middle, 'daphne', 'cpu_percent'), 1)} "
                f"| {fmt(server(middle, 'loadgen', 'cpu_percent'), 1)} "
                f"| {errors_text(errors)} | {fmt(sum(lost)) if lost else '–'} |"
            )
        lines.append("")
        if ratio_echo is not None:
            naive_rate, exam_rate = rounds_median(rounds, "naive"), rounds_median(rounds, "exam")
            lines += [
                f"Ratios in this run: our path / echo **{100 * ratio_echo:.0f} %**"
                + (f"; our path / naive **{exam_rate / naive_rate:.1f} ×**." if naive_rate else "."),
                "",
            ]
        if "throughput" in made:
            lines += [f"![throughput](bench/{made['throughput']})", ""]
    if ramps:
        # Generators before ramp_decision ended a ramp at its first miss and wrote no "repeat" key.
        repeats = any("repeat" in step for ramp in ramps.values() for step in ramp.get("steps") or [])
        ending = (
            [
                'each step measured on its own window; a step over 100 ms is measured once more ("again"), and two',
                "in a row end the ramp, so one stall does not decide a design; errors are listed).",
            ]
            if repeats
            else ["each step measured on its own window; the first step over 100 ms ends the ramp; errors are listed)."]
        )
        lines += [
            "Capacity within p99 100 ms (`loadgen.py --ramp`, saves every 5 s, 1.5 × more examinees per step,",
            *ending,
            "A small step measures few saves, so its p99 is nearly its maximum: read these as orders of magnitude.",
            "",
            "| design | largest N within p99 100 ms | steps: N → p99 ack (ms) (saves measured, errors) |",
            "| --- | ---: | --- |",
        ]
        for target, label in (("exam", "our path"), ("naive", "naive design")):
            ramp = ramps.get(target)
            if not ramp:
                continue
            steps = "; ".join(
                f"{'again ' if step.get('repeat') else ''}{fmt(step['examinees'])} → {fmt(step['ack_p99_ms'], 0)} "
                f"({fmt(step.get('saves'))} saves" + (f", {step['errors']} errors)" if step.get("errors") else ")")
                for step in ramp["steps"]
            )
            lines.append(f"| {label} | **{fmt(ramp['largest_within'])}** | {steps} |")
        lines.append("")

    # Redis ---------------------------------------------------------------------------------
    if redis and not redis.get("skipped"):
        lines += ["### Redis building blocks (redis-benchmark)", ""]
        lines += [
            "`redis-benchmark -c 50 -r 100000 -n "
            f"{fmt(results.get('redis_requests', 100000))}` against the private Redis (AOF everysec), the commands",
            "of the path; the `answer.sync` script is the real SYNC_APPLY (one change, random sheet and version).",
            "",
            "| command | pipeline | requests/s median (spread) | p50 / p99 (ms) |",
            "| --- | ---: | --- | --- |",
        ]
        for label, row in redis.items():
            name, _, pipeline = label.rpartition(" -P ")
            middle, low, high = row["rps"]
            lines.append(
                f"| {name} | {pipeline} | {fmt(middle)} ({fmt(low)}–{fmt(high)}) "
                f"| {row['p50_ms']:.3f} / {row['p99_ms']:.3f} |"
            )
        lines.append("")
    elif redis.get("skipped"):
        lines += ["### Redis building blocks", "", f"Skipped: {redis['skipped']}.", ""]

    # Soak ----------------------------------------------------------------------------------
    if soak:
        minutes = (soak.get("window", [0, 0])[1] - soak.get("window", [0, 0])[0]) / 60
        lines += ["### Soak", ""]
        lines += [
            f"{fmt(soak.get('examinees'))} examinees for {minutes:.0f} minutes (the issue's soak: 30; `--soak-minutes`"
            f" sets it): {fmt(soak.get('saves_per_second'), 1)} saves/s, ack p99 {fmt(soak.get('ack_p99_ms'), 1)} ms, "
            f"commit lag p99 {fmt(soak.get('commit_lag_p99_ms'))} ms, errors {errors_text(soak.get('errors'))}, "
            f"lost {fmt(soak.get('lost'))}.",
            "",
        ]
        if growth:
            lines += [
                "Flat means no series grows in the second half by more than 5 % (and 1 MiB) of its half-time value.",
                "",
                "| series | after the first fifth (MiB) | at half-time (MiB) | at the end (MiB) |",
                "| --- | ---: | ---: | ---: |",
            ]
            lines += [
                f"| {name} | {begin:.1f} | {middle:.1f} | {end:.1f} |" for name, (begin, middle, end) in growth.items()
            ]
            lines.append("")
        if "soak_memory" in made:
            lines += [f"![memory over the soak](bench/{made['soak_memory']})", ""]

    # Profile -------------------------------------------------------------------------------
    lines += ["### Where the time goes", ""]
    profiles = results.get("profiles") or {}
    for kind, heading in (
        ("daphne", "daphne during the steady exam"),
        ("daphne_herd", "daphne during the exam-start herd"),
        ("flush", "the flush benchmark process"),
    ):
        profile = profiles.get(kind)
        if not profile or not profile.get("samples"):
            continue
        lines += [
            f"py-spy (100 Hz, all threads) of {heading} (`{profile['name']}`, {fmt(profile['samples'])} samples):",
            f"flame graph [`bench/{profile['svg']}`](bench/{profile['svg']}), collapsed stacks",
            f"[`bench/{profile['collapsed']}`](bench/{profile['collapsed']}) (speedscope.app reads them).",
            "",
            "| function | what | share of samples (inclusive) |",
            "| --- | --- | ---: |",
        ]
        lines += [f"| `{name}` | {what.strip()} | {share:.1f} % |" for name, what, share in profile["frames"] if share]
        top = ", ".join(f"`{name}` {share:.1f} %" for name, share in profile.get("top_self", [])[:8])
        lines += ["", f"Most self time: {top}.", ""]
    lines += WHERE_THE_TIME_GOES + gap_lines(results) + GAP_CAUSES
    return "\n".join(lines).rstrip() + "\n"


# Read with the profile tables above; the causes are in the code, the sizes in this run's figures.
WHERE_THE_TIME_GOES = [
    "What changed since the first run of this suite (2026-11-24 morning: steady 200 p99 833 ms, 1,000-2,000",
    "examinees mostly unable to connect, flush 2 % of COPY), each found in these profiles:",
    "",
    "1. **No database work per message.** The socket kept re-reading the examinee's context (two queries)",
    "   when it was older than 2 s, i.e. on nearly every save. The context now lives in the socket; every",
    "   committed lifecycle change raises a state epoch in Redis (one per group, one per examinee), and the",
    "   save's Lua call refuses a context read before the last change (`EPOCH`), so the socket re-reads it",
    "   then, on a doorbell, or when a heartbeat sees a moved epoch: a save is one Redis round trip.",
    "2. **A bounded psycopg pool** (`DATABASE_POOL_MAX_SIZE`, Django's own) instead of a new PostgreSQL",
    "   connection per call; the run without the pool above shows what it buys.",
    "3. **Database calls on a few threads** (`exam_platform.db.db_async`) instead of asgiref's single",
    "   thread-sensitive one, and no hop to that thread before every message (channels' dispatch runs",
    "   `close_old_connections` there; our consumer returns its connections itself).",
    "4. **No session-user lookup before accept** (`SessionMiddlewareStack`; the exam socket authenticates",
    "   by token) and one database call at connect (token check + SOCKET_SESSION row).",
    "5. **Heartbeats written in batches** (one UPDATE per process every 15 s) instead of one per socket.",
    "6. **`answer.committed` is one Redis PUBLISH per flush batch** ({examinee: versions}), which each ASGI",
    "   process hands to its own sockets (`exam_platform.fanout`). It was one channel-layer message per",
    "   examinee, which channels_redis delivers one `BZPOPMIN` round trip at a time on daphne's busy loop: at",
    "   400 saves/s the rings arrived tens of seconds late. Lifecycle doorbells ring from one event loop per",
    "   batch, and the channel layer's `capacity` is 20,000 instead of 100 (a process's sockets share one",
    "   Redis list, so a ring to 500 examinees dropped most).",
    "7. **Bounded, blocking Redis pools** for the answer client and the channel layer (redis-py's default",
    "   refuses the 101st concurrent command: `SYS-001 MaxConnectionsError` under a herd), and a 15 s read",
    "   timeout on the channel layer (redis-py 8's 5 s raced channels_redis's 5 s `BZPOPMIN` and closed idle",
    "   sockets with 1011).",
    "8. **Flush SQL as `unnest` of binary arrays** (one statement per table per batch of 2,000) instead of",
    "   200-row VALUES lists that psycopg re-split in Python; the submitted-sheet refresh only for examinees",
    "   who submitted; hiredis for stream replies.",
    "9. **The fan-out yields to the event loop every 50 rings** of a batch, so saves waiting for their acks",
    "   are served while a batch rings thousands of sockets.",
    "10. **Fewer round trips while a group's row is locked.** A connect finds and locks the examinee's",
    "   GROUP_PROGRESS row in one statement (it was a lookup, then the lock), and the connect inside the",
    "   socket's transaction takes no savepoint of its own (two round trips less, one of them under the",
    "   lock). The socket's transaction is now BEGIN, the SOCKET_SESSION row, the two locks, the two updates,",
    "   the audit row, COMMIT (`tests/proctoring/test_socket_sessions.py` holds it to that).",
    "11. **Admission at connect** (`answers/admission.py`, 2026-11-24 night): at most",
    "   `EXAM_ADMISSION_IN_FLIGHT` examinees per process between their connect and their first `recover`;",
    "   the next wait in line and are told how long (`admission.wait`), and one who would wait longer than",
    "   `EXAM_ADMISSION_MAX_WAIT_SECONDS` is told to come back (SYS-005, close 4503) at a spread-out time.",
    "   Before it, a herd's `recover`s all queued behind all connects and timed out together.",
    "12. **A sign-in writes nothing** (2026-11-25): the token goes in its own HttpOnly cookie instead of a",
    "   `django_session` row, and the sign-in is an async view whose one query waits for the database threads",
    "   with the connects, instead of every sign-in taking a thread of its own.",
    "13. **Connects recorded together** (`answers/connects.py`, 2026-11-25): the connects of the same moment",
    "   in a process are one trip to a database thread: the tokens in one query, the SOCKET_SESSION rows and",
    "   the connect transitions in one transaction of a fixed number of statements",
    "   (`plans.services.lifecycle.examinees_connect`), the epochs in one MGET, the contexts in one query.",
    "   One by one, each connect was about a dozen round trips, and they were 72 % of daphne's samples in the",
    "   herd of the 2026-11-24 evening run.",
    "14. **The nesting-depth check on the parsed message** (2026-11-25) instead of a Python loop over every",
    "   character before parsing (32 of 47 µs of parsing for a 1.2 KB save).",
    "15. **Django's middleware on the event loop** (`exam_platform/middleware.py`, 2026-11-25): under ASGI",
    "   Django sends each hook of each middleware to a thread, sixteen trips for one sign-in. The platform's",
    "   subclasses call the hooks that do no I/O inline; a session or messages save still goes to a thread.",
    "   2,000 sign-ins on one daphne (a one-off raw-HTTP client, 200 at a time): 160 a second before, 282 after.",
    "16. **Saves pipelined** (`exam_platform/redis_batch.py`, 2026-11-25): the SYNC_APPLY calls of the same",
    "   moment in a process go to Redis in one pipeline (at most 4 in flight). In the run of 0b6e49e steady",
    "   5,000 on one daphne had 33,972 SYS-001 `ConnectionError`: the 64 pooled Redis connections were all",
    "   held by saves whose replies the busy loop had not read, and the rest waited the pool's 2 s and failed.",
    "17. **Recovers batched like connects** (`answers.connects.recover_batch`, 2026-11-25): the caches in one",
    "   Redis pipeline, ANSWER_DATA and QUESTION_METADATA in one query each.",
    "18. **Flush** (2026-11-25): the batch's submitted examinees found with one array parameter instead of an",
    "   `IN` of 2,000 placeholders built in Python, and each entry's time adapted once.",
    "19. **Only an error reply switches the language** (2026-11-25): each message used to enter and leave",
    "   `translation.override`.",
    "20. **The early flush rung once a second per process** (`answers.services.sync.EarlyFlushBell`,",
    "   2026-11-25): over 5,000 queued entries every save queued its own flush task (through a thread hop),",
    "   thousands a second, and the worker drained tasks that found the queue already taken. In one compare",
    "   round the worker went from 21-25 % to 15 % CPU and daphne from 68 % to 83 %.",
    "21. **orjson on the answer path** (2026-11-25): the Lua arguments, the socket's replies, the flush's",
    "   stream entries and the doorbell batches (3.1 to 0.4 µs for an entry). The incoming frame keeps the",
    "   json module (its hooks refuse duplicate keys, huge integers, NaN), and so does the checksum. With 20,",
    "   one compare round went from 38 % to 55 % of the echo.",
    "22. **A spaced-out garbage collector** (`exam_platform.runtime.gc_tune`, `ASGI_GC_THRESHOLD` 50,000,",
    "   2026-11-25) in every ASGI process, and the same in the load generator. Measured with `gc.callbacks`:",
    "   with Python's thresholds (700, 10, 10) a daphne holding 5,000 examinees ran a full collection, a",
    "   walk over every object, about every two seconds, 600-900 ms each, and the loop stood still. That",
    "   was the steady runs' p99 (1.3 s at 5,000). A save's objects wait tens of milliseconds for Redis,",
    "   outlive two young collections and are promoted; the old generation's growth then sets off the full",
    "   walk. Now the start-up heap is frozen and the young generation runs every 50,000 allocations: steady",
    "   5,000 on one daphne went to p99 ack 275 ms (1,284 ms) and ready in 70.6 s (120 s), with 4 full",
    "   collections instead of 68. (The same change was tried and dropped earlier on one compare round of",
    "   100 sockets, whose heap is too small to show it.) The generator had pauses of up to 1.4 s too, and",
    "   timed the replies that came in meanwhile that much late.",
    "23. **Paced starts no longer bounded to 50 at a time** (`bench/run.py --connect-concurrency`, default",
    "   1,000, 2026-11-25): with starts of about 1 s the bound made 100 examinees a second arrive at 50, and",
    "   steady 10,000 got about 7,000 in before the start deadline. A browser does not wait for the others.",
    "24. **Fewer indexes on the answer tables** (migration `answers.0004`, 2026-11-25): Django's index per",
    "   foreign key, and on PostgreSQL its `_like` twin for a text key, gave ANSWER_HISTORY eleven indexes,",
    "   each written with every flushed change. Now the unique constraint serves the examinee, one",
    "   (plan, group) index the filters and a plain question index the question search. Measured with",
    "   `bench/flush_throughput.py` on 10,000 changes: the flush 2.4 s to 1.5 s, and the COPY baseline,",
    "   which writes the same two tables, 0.72 s to 0.44 s, so the flush's ratio hardly moved.",
    "25. **The Celery pool processes' collector spaced out too** (`WORKER_GC_THRESHOLD` 50,000,",
    "   2026-11-25): reading and parsing a flush's 10,000 entries went from 0.24 s to 0.08 s.",
    "26. **One commit-mark script call per flush batch** (2026-11-25): it was one EVALSHA per examinee's",
    "   cache hash, 2,000 a batch, mostly redis-py packing; and the all-committed check reads the field",
    "   names and the versions instead of HGETALL of every answer (acknowledging 10,000 changes 0.29 s to",
    "   0.17 s).",
    "27. **SOLVING_STATS recounted once per flush, not per batch** (`answers.services.flush.",
    "   solving_stats_refresh`, 2026-11-25): the batch's examinees are marked due with the XACK",
    "   (`answers:stats:due`) and recounted after the batches, one recount at a time under an advisory",
    "   lock; a mark leaves only after its recount committed and only if no newer commit replaced it, so",
    "   a worker killed in between leaves it to the next flush. It was 0.17 s of 1.35 s for 10,000 changes.",
    "28. **hiredis packs the asyncio client's commands** (`exam_platform.redis.HiredisPackedConnection`,",
    "   2026-11-25): redis-py packs in Python on asyncio (hiredis only on its sync client); a save's EVALSHA",
    "   9.1 µs to 1.8 µs, where the packing was about 5 % of daphne's event loop in a compare round.",
    "29. **The flush acknowledges behind its writing** (2026-11-25): a committed batch's stats-due mark,",
    "   XACK, commit mark and doorbell run on a thread of their own, in batch order, while the next",
    "   batch's transaction runs; a failed acknowledgement still comes out of the flush. The rows of a",
    "   batch go in key order, so the worker's two pool processes flushing the same answers at once wait",
    "   for each other instead of deadlocking (a test showed the deadlock before). A/B of",
    "   `bench/run.py --scenarios flush` on a slower machine, alternating: before 3,008-3,658 changes/s",
    "   (median of 7 runs 3,180), after 3,439-4,198 (median of 5, 3,660). Reading the next batch ahead",
    "   the same way was tried too and gained nothing (3,326-4,246, median 3,392): the two cores are",
    "   busy already.",
    "30. **The flush writes from one staging table** (2026-11-25 afternoon): a batch's changes go into a",
    "   temporary table with one binary COPY, and each answer table is written from it by one",
    "   INSERT ... SELECT that collapses the batch's changes of a row in SQL (`DISTINCT ON` for",
    "   ANSWER_DATA, `GROUP BY` for QUESTION_METADATA) instead of Python dictionaries and one array",
    "   parameter per column per table; the stream is read without redis-py's dict per entry (65 of",
    "   91 ms for 10,000 entries); the SOLVING_STATS due marks are set on the writing thread, so the",
    "   recount runs while the last acknowledgements do. Timed per phase on the shared PostgreSQL",
    "   (10,000 changes over 2,000 examinees, 3 runs each): the flush 1.04 s to 0.92-0.95 s, with the",
    "   baseline at 0.44-0.47 s (43 % to 46-49 %).",
    "31. **The generator's sign-ins over small HTTP pools** (`bench/loadgen.py`, 2026-11-25 afternoon): one",
    "   httpx client per 64 examinees starting at once instead of one pool as large as",
    "   `--connect-concurrency`. httpcore's pool scans every connection and queued request on each request",
    "   (quadratic: encode/httpcore#1035). In the herd of 10,000 of the run of b7fbe41 (16:20 UTC) the",
    "   daphnes answered every sign-in between 74 and 94 s after the start and none before, yet the",
    "   generator saw them after a median of 151 s, past its 150 s start deadline: the herd's 0 of 10,000",
    "   measured the generator. The paced starts were not held back by it: steady 10,000 on one daphne",
    "   after this item (`--scenarios steady --sizes 10000`, 17:54 UTC) got 4,993 in before the start",
    "   deadline, against 5,163 in the run of b7fbe41: daphne's start rate is their limit. The herd",
    "   scenario alone after it",
    "   (`bench/run.py --scenarios herd --herd 2000 --herd-processes 2 --herd-target 10000 --no-doc`,",
    "   17:41 UTC, code 59c74c1): 10,000 on daphne × 2 got 5,381 ready in 152.6 s with the generator's",
    "   sign-ins at p50 38.9 s (WS-CONNECT ×1,841, START-FAILED ×217, START-DEADLINE ×4,402), and",
    "   2,000 on two 38.7 s.",
    "32. **The next flush batch is read while PostgreSQL commits this one** (2026-11-25 evening, after",
    "   this run's code): on a thread of its own, started once the batch's statements are through, when",
    "   the writing thread only waits for the commit; entries read ahead for a batch that a failure keeps",
    "   from being written are marked idle for the claim time (XCLAIM IDLE, JUSTID), so the next flush",
    "   takes them at once. Reading ahead from the start of a batch had gained nothing: it slowed the",
    "   statements as much as it saved. A/B on the shared PostgreSQL, alternating, 3 runs each: flush /",
    "   baseline 0.47-0.48 (median of 4 rounds 0.472) before, 0.48-0.53 (0.511) after; the flush",
    "   scenario alone (`bench/run.py --scenarios flush --repeats 5 --no-doc`, 17:40 UTC) 49.6 %",
    "   (runs 42-58 %).",
    "33. **The admission gate sized to the batches behind it** (2026-12-08): 200 examinees of a process",
    "   between connect and first `recover` (was 24) and 60 s of wait in line (was 20 s). The connects and",
    "   recovers go to the database in batches of up to 50, two at a time, so 24 never filled one, and the",
    "   gate's rate (its places over the time a holder takes) sent most of a herd away to come back 20 s",
    "   later while the process idled. Herd of 2,000 on one daphne (a lab stack of `bench/stack.py`, the",
    "   same generator): 64.7 s with 2,389 sent away, then 20.3 s with none.",
    "34. **Sign-ins checked together** (`plans.services.access.examinees_authenticate`, 2026-12-08): the",
    "   sign-ins of the same moment in a process are one query on one database thread (up to 100), reading",
    "   only the sign-in's columns; each was its own thread hop, pool checkout and ORM query with two joins.",
    "   2,000 sign-ins from a raw-HTTP client on one daphne: 225-273 a second at 97 % CPU, then 560-600;",
    "   PostgreSQL 10 % to 1 %.",
    "35. **Connects save their rows with one UPDATE ... FROM unnest** (`exam_platform.db.rows_update`,",
    "   2026-12-08) instead of `bulk_update`, whose `CASE WHEN` per row and field was built in Python (a",
    "   fifth of daphne's samples while 2,000 examinees connected). 2,000 connects and recovers on one",
    "   daphne: 232 a second, then 356; with item 34 the herd of 2,000 on one daphne took 13.3 s.",
    "36. **Socket closes recorded together** (`answers.connects.close_batch`, 2026-12-08): one transaction",
    "   for the closes of the moment instead of one each; 3,000 closes had kept one daphne's database",
    "   threads busy for tens of seconds, with the next connects waiting behind them.",
    "37. **The generator's HTTP clients** (2026-12-08): one TLS context for all (each of the 157 clients of",
    "   a herd of 10,000 loaded the CA store, 5 s of the generator's CPU before its first sign-in), and",
    "   sniffio installed (httpcore imports it on every request; missing, each import searched sys.path:",
    "   14 % of the generator's CPU in that herd).",
    "38. **The herd's first answers after reading, and both servers** (2026-12-08): a page's first answer",
    "   now comes `--herd-first-answer` (30 s × 0.5-1.5) after it is ready, where it came within 5 s; the",
    "   target's herd and the several-process steady runs run on daphne and uvicorn (`--servers`); uvicorn",
    "   listens with a backlog of 4,096, as daphne's shared socket does (at its default of 2,048 a herd of",
    "   10,000 overflowed the accept queue: about 1,900 WS-CONNECT). In the lab after items 33-37, the herd",
    "   of 10,000 with answers from the first seconds took 86-135 s on daphne × 2 and 148 s on uvicorn × 2,",
    "   with SYS-001 and sent-away pages: the first ready examinees' saves (2 ms of CPU each, all processes",
    "   together) took the CPU the others needed to start. With the first answer after 30 s, uvicorn × 2 got",
    "   all 10,000 ready in 52.5 s without an error, and daphne × 2 (no answers for 60 s) in 80 s.",
    "",
    "Runs dated before an item above measured the code without it: the date and commit of this run are at",
    "the top of this section.",
    "",
]

# The fastest run of this suite so far, to read this run's absolute figures against: the bare echo's
# saves/s and the COPY baseline's changes/s of `make bench` at c12ea6b (2026-11-25 10:33 UTC).
REFERENCE_RUN = {"name": "c12ea6b, 2026-11-25 10:33 UTC", "echo": 6839, "baseline": 22087}


def rounds_median(rounds: dict[str, Any], target: str) -> float | None:
    """The median saves/s of the compare rounds of `target` (echo, exam, naive), None without rounds."""
    runs = rounds.get(target) or []
    return statistics.median(run["saves_per_second"] for run in runs) if runs else None


def _cpu_text(run: dict[str, Any]) -> str:
    parts = [
        (label, server(run, name, "cpu_percent"))
        for name, label in (("daphne", "daphne"), ("loadgen", "the load generator"), ("postgres", "PostgreSQL"),
                            ("worker", "the worker"), ("redis", "Redis"))
    ]  # fmt: skip
    known = [(label, value) for label, value in parts if value is not None]
    if not known:
        return ""
    total = sum(value for _label, value in known)
    return f"{fmt(total)} % of the machine's 200 % (" + ", ".join(f"{label} {fmt(v)} %" for label, v in known) + ")"


CAPACITY_PARTS = (("daphne", "the server"), ("loadgen", "the generator"), ("postgres", "PostgreSQL"),
                  ("worker", "the worker"), ("redis", "Redis"))  # fmt: skip
TARGET_SAVES_PER_SECOND = 2000  # 10,000 examinees, one save every 5 s


def capacity_line(runs: list[dict[str, Any]]) -> str | None:
    """What each further save costs in CPU over all the processes, from the two largest steady runs of
    one server that got everybody in, and what 10,000 examinees would need at that cost."""
    full = [run for run in runs if (run.get("ready") or 0) >= run["examinees"] and run.get("saves_per_second")]
    if len(full) < 2:
        return None
    small, large = full[-2], full[-1]
    saves = large["saves_per_second"] - small["saves_per_second"]
    if saves <= 0:
        return None
    parts = []
    for name, label in CAPACITY_PARTS:
        before, after = server(small, name, "cpu_percent"), server(large, name, "cpu_percent")
        if before is not None and after is not None:
            parts.append((label, (after - before) * 10 / saves, after))  # 1 % of a core for a second = 10 ms
    if not parts:
        return None
    per_save = sum(ms for _label, ms, _after in parts)
    used = sum(after for _label, _ms, after in parts)
    needed = used + (TARGET_SAVES_PER_SECOND - large["saves_per_second"]) * per_save / 10
    return (
        f"- **Capacity on {design_label(large)}.** From {fmt(small['examinees'])} to {fmt(large['examinees'])}"
        f" examinees ({fmt(small['saves_per_second'])} to {fmt(large['saves_per_second'])} saves/s) each further"
        f" save cost {per_save:.2f} ms of CPU over all the processes ("
        + ", ".join(f"{label} {ms:.2f} ms" for label, ms, _after in parts)
        + f"). At that cost 10,000 examinees ({fmt(TARGET_SAVES_PER_SECOND)} saves/s) need about"
        f" {fmt(needed)} % of CPU, where the machine has 200 % and a p99 of 100 ms needs some of it idle."
    )


def gap_lines(results: dict[str, Any]) -> list[str]:
    """The figures of this run behind each missed target, from the results (never typed in by hand)."""
    scenarios = results.get("scenarios", {})
    compare = scenarios.get("compare") or {}
    flush = scenarios.get("flush") or {}
    lines: list[str] = ["Where the gap to the targets remains, in this run's figures:", ""]
    rounds = compare.get("rounds") or {}
    echo = rounds_median(rounds, "echo")
    baseline = (flush.get("median") or {}).get("baseline_changes_per_second")
    if echo or baseline:
        lines += [
            f"- **How fast this run's machine was.** The bare echo served {fmt(echo)} saves/s and the COPY",
            f"  baseline made {fmt(baseline)} changes/s, where the fastest run so far ({REFERENCE_RUN['name']})",
            f"  had {fmt(REFERENCE_RUN['echo'])} and {fmt(REFERENCE_RUN['baseline'])}. The machine is shared and its",
            "  speed changes between sessions: absolute figures scale with it, the ratios measured side by side",
            "  in one scenario (compare, flush) carry over.",
        ]
    for label, runs in steady_by_design(scenarios).items():
        holding = [run for run in runs if steady_run_within(run)]
        largest = runs[-1]
        held = "No run holds every bound"
        if holding:
            best = holding[-1]
            held = f"{fmt(best['examinees'])} examinees hold every bound (p99 ack {fmt(best['ack_p99_ms'], 1)} ms)"
        cpu = _cpu_text(largest)
        lines += [
            f"- **The steady exam on {label}.** {held}. The largest run, {fmt(largest['examinees'])},"
            f" got {fmt(largest.get('ready'))} in before the start deadline, with p99 ack"
            f" {fmt(largest['ack_p99_ms'], 1)} ms, p99 commit lag {fmt(largest['commit_lag_p99_ms'])} ms, errors"
            f" {errors_text(largest.get('errors'))} and lost {fmt(largest.get('lost'))}"
            + (f"; its CPU columns add up to {cpu}." if cpu else "."),
        ]
    one = steady_by_design(scenarios).get(ONE_DAPHNE) or []
    capacity = capacity_line(one)
    if capacity:
        lines.append(capacity)
    for run in herd_runs(scenarios):
        rate = (run.get("ready") or 0) / run["ready_seconds"] if run.get("ready_seconds") else None
        lines.append(
            f"- **The herd of {fmt(run.get('examinees'))} on {design_label(run)}:**"
            f" {fmt(run.get('ready'))} ready after {fmt(run.get('ready_seconds'), 1)} s ({fmt(rate, 1)} a second,"
            f" where 10,000 in 60 s needs 167), the generator's sign-ins p50 {fmt(run.get('signed_in_p50_s'), 1)} s,"
            f" errors {errors_text(run.get('errors_while_starting'))}."
        )
    ramps = compare.get("ramps") or {}
    if ramps.get("exam") and ramps.get("naive"):
        ours, naive = ramps["exam"], ramps["naive"]
        text = (
            f"- **5 × naive.** Within p99 {fmt(ACK_TARGET_MS)} ms ours held {fmt(ours['largest_within'])} examinees"
            f" and the naive design {fmt(naive['largest_within'])}"
        )
        largest = ours["largest_within"] or 0
        above = next((step for step in ours.get("steps") or [] if step["examinees"] > largest), None)
        if above:
            size = above["examinees"]
            theirs = next((step for step in naive.get("steps") or [] if step["examinees"] == size), None)
            text += (
                f". At the next step, {fmt(size)}, ours had p50 {fmt(above.get('ack_p50_ms'), 1)} ms and p99"
                f" {fmt(above.get('ack_p99_ms'))} ms"
            )
            if theirs:
                text += (
                    f", the naive design p50 {fmt(theirs.get('ack_p50_ms'), 1)} ms and p99"
                    f" {fmt(theirs.get('ack_p99_ms'))} ms"
                )
        lines.append(text + ".")
    if flush.get("median"):
        median = flush["median"]
        lines.append(
            f"- **The flush** made {fmt(median['flush_changes_per_second'])} changes/s against the baseline's"
            f" {fmt(median['baseline_changes_per_second'])}: {100 * median['ratio']:.0f} %."
        )
    return [*lines, ""]


# Why the gaps are where they are: the causes, which a run's figures do not change.
GAP_CAUSES = [
    "Why:",
    "",
    "- **Two cores for everything.** daphne, the Celery worker, PostgreSQL, Redis and the load generator",
    "  share two cores; the CPU columns add up to the machine. Above a few thousand examinees the load",
    "  generator alone (thousands of Python sockets) takes a large share, so the figures are a lower bound",
    "  for the server.",
    "- **CPU per start and per save.** After items 33-37 a start costs one daphne about 1.7 ms of CPU to",
    "  sign in and 2.8 ms to connect and recover (raw clients, one daphne alone), and the generator about 1",
    "  ms and 2-3 ms more; a save costs about 2 ms of CPU over all the processes (see the capacity bullet",
    "  above). A herd of 10,000 is therefore about 45 s of server CPU and 30 s of generator CPU before its",
    "  first save, on two cores, and every examinee already in adds 0.4 ms of CPU a second with its saves.",
    "  Far past its capacity the start path collapses rather than queues: Redis replies wait for a busy",
    "  event loop past the 2 s timeout (SYS-001), pages are sent away and come back (each a new socket),",
    "  and a page that waits too long for its `recover` starts again (START-FAILED).",
    "- **The steady exam at 10,000** needs less CPU per save in every process: the ASGI server's frame",
    "  handling and socket writes (twisted/autobahn registers and unregisters every write with epoll:",
    "  three system calls an outgoing frame, on a machine where a system call costs tens of",
    "  microseconds), the generator (a Python websockets client per examinee), and PostgreSQL. SYS-001",
    "  there is Redis not answering within 2 s: the page keeps those changes and sends them again (lost 0).",
    "- **5 × naive.** At 0.2 saves a second per examinee the naive design's upserts stay within",
    "  PostgreSQL's reach until the machine as a whole is saturated; for 5 × ours would have to hold five",
    "  times the naive design's largest step within 100 ms on the same two cores, which the steady",
    "  scenario does not reach. A ramp measures a missed step once more and ends only at two misses in a",
    "  row (`loadgen.ramp_decision`, for both designs).",
    "- **The flush does more than the baseline.** The baseline writes two tables with COPY; the flush",
    "  writes three (QUESTION_METADATA too) with upserts that keep redeliveries harmless, reads and parses",
    "  the stream, recounts SOLVING_STATS and acknowledges. Timed per phase after item 30 (10,000 changes",
    "  over 2,000 examinees, shared PostgreSQL, 2026-11-25 afternoon), about 0.95 s against the baseline's",
    "  0.45 s: the commit 0.40 s (Django's foreign keys are checked at commit, four a row; 0.12 s of it",
    "  QUESTION_METADATA's), the three INSERT ... SELECT 0.08-0.09 s each, reading and parsing 0.11 s,",
    "  the SOLVING_STATS recount 0.06 s, the COPY into the staging table 0.02 s. PostgreSQL's backend",
    "  used 0.7 s of CPU, the flush's Python 0.2 s and Redis 0.13 s. Measured and dropped: dropping",
    "  every foreign key (the flush 0.69 s, but the baseline 0.19 s: 27 %; checks the baseline pays as",
    "  well help it more) and one statement of three data-modifying CTEs instead of the staging table (no",
    "  gain). Item 32 then read the next batch during the commit.",
    "- **Commit lag** is the beat's one-second flush ring plus the batch's transaction, then one PUBLISH.",
    "  Where p99 is above 2 s, `flushed_after_s` in the raw results says whether the queue kept up.",
    "- **Redis's used memory in the soak.** An earlier 30-minute soak found a straight slope of about",
    "  0.15 MiB a minute. It was each sheet's navigation list (`nav`) filling to its bound of 100 moves:",
    "  the generator moves on about a quarter of its saves, so 500 sheets × 0.05 moves/s × ~100 bytes is",
    "  that slope, and 100 moves took the whole half hour. The sheet keeps its last 20 moves now",
    "  (`answers.keys.NAVIGATION_KEEP`), full after about 6 minutes; the soak table above says whether",
    "  everything is flat after that.",
    "- **The ASGI server's own cost per frame** (twisted/autobahn in daphne) is a large part of the event",
    "  loop's samples; the asgi table, the herd and the several-process steady runs show what uvicorn (uvloop,",
    "  httptools, the websockets sans-I/O protocol) and a second process on the same port buy for the same",
    "  application.",
    "- **The compare rounds are not CPU-bound in daphne.** In a py-spy profile of a round (`--idle`) the",
    "  event loop waited in `select` 13 % of the time and daphne used 82-86 % of its core, against the",
    "  echo's 97 %: with 100 closed-loop sockets, at most four save pipelines in flight and Redis,",
    "  PostgreSQL and the worker floating over both cores, the saves wait for Redis's replies. Pinning",
    "  Redis, PostgreSQL and the worker to the generator's core made it worse (2,770-2,880 saves/s against",
    "  3,243: the generator and Redis then share one core), and eight pipelines in flight changed nothing",
    "  beyond the noise.",
    "",
]


def doc_write(results: dict[str, Any], doc: Path, plots: Path) -> None:
    """Replace (or append) the "## Answer path" section of `doc`, keeping every other section."""
    made = plots_make(results, plots)
    section = section_text(results, made)
    text = doc.read_text(encoding="utf-8") if doc.exists() else DOC_HEADER
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":  # rewrite the section from a raw result: python bench/report.py bench/results/x.json
    import argparse
    import json

    ROOT = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description="Rewrite the answer-path section from a raw bench/run.py result.")
    parser.add_argument("raw", type=Path, help="bench/results/answer-path-<date>.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md", help="The Markdown file.")
    parser.add_argument("--plots", type=Path, default=ROOT / "docs" / "bench", help="The folder of the plots.")
    arguments = parser.parse_args()
    doc_write(json.loads(arguments.raw.read_text(encoding="utf-8")), arguments.doc, arguments.plots)
