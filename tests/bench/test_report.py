"""The report's sections of the reconnect storm, the ASGI servers and the run without the connection pool
render this run's numbers and ratios; the recovery curve counts each examinee once, after the kill."""

from bench.report import (
    asgi_lines,
    capacity_line,
    no_pool_lines,
    reconnect_lines,
    recovery_curve,
    section_text,
    soak_flat,
    soak_growth,
)
from bench.run import asgi_as_daphne, asgi_usage, options_parse

KILL_AT = 1000.0


def steady_run(examinees: int, p99: float, daphne_cpu: float, postgres_cpu: float) -> dict:
    return {
        "examinees": examinees, "ready": examinees, "ready_seconds": 10.0, "saves_per_second": examinees / 5,
        "ack_p50_ms": p99 / 4, "ack_p99_ms": p99, "ack_max_ms": p99 * 2, "heartbeat_p99_ms": 5.0,
        "commit_lag_p50_ms": 500.0, "commit_lag_p99_ms": 1100.0, "errors": {}, "lost": 0,
        "servers": {"daphne": {"cpu_percent": daphne_cpu, "rss_end_mib": 120.0},
                    "postgres": {"cpu_percent": postgres_cpu}},
    }  # fmt: skip


def reconnect_result() -> dict:
    return {
        "examinees": 4, "ready": 4, "seconds": 120.0, "saves_per_second": 0.8, "ack_p50_ms": 3.0,
        "ack_p99_ms": 812.5, "ack_max_ms": 900.0, "errors": {"DISCONNECTED": 4, "WS-CONNECT": 7}, "lost": 0,
        "counts": {"reconnects": 6},
        "disconnected_at": [KILL_AT + 0.01] * 4,
        "kill": {"after_s": 15, "at": KILL_AT, "listening_at": KILL_AT + 4.0, "old_pid": 1, "new_pid": 2},
        # examinee 0 reconnected once before the kill (an idle socket closed), which does not count
        "reconnected_at": [[0, KILL_AT - 30], [0, KILL_AT + 5.0], [1, KILL_AT + 6.0], [2, KILL_AT + 7.5],
                           [2, KILL_AT + 20.0], [3, KILL_AT + 12.25]],
    }  # fmt: skip


def test_recovery_curve_counts_each_examinee_once_after_the_kill():
    # given
    reconnected = reconnect_result()["reconnected_at"]

    # when
    curve = recovery_curve(KILL_AT, reconnected, population=4)
    short = recovery_curve(KILL_AT, reconnected[:3], population=4)

    # then
    assert curve["recovered"] == 4
    assert curve["offsets"] == [5.0, 6.0, 7.5, 12.25]
    assert (curve["p50"], curve["p99"], curve["p100"]) == (6.0, 12.25, 12.25)
    assert short["recovered"] == 2
    assert short["p50"] == 6.0
    assert short["p99"] is None and short["p100"] is None


def test_reconnect_section_shows_the_recovery_and_its_ratios():
    # given
    herd = {"examinees": 1000, "ready_seconds": 50.0}

    # when
    text = "\n".join(reconnect_lines(reconnect_result(), herd, {"reconnect": "reconnect.png"}))

    # then
    assert "### Reconnect storm" in text
    assert "| 4 | 4.0 | 6.0 / 12.2 / 12.2 | 4 | 6 | 4 | 0.8 | 3.0 / 812.5 / 900.0 |" in text
    assert "DISCONNECTED ×4" in text and "WS-CONNECT ×7" in text
    assert "all back 3.06 × the new daphne's start-up" in text
    assert "per examinee 61.25 × the exam-start herd's" in text
    assert "![reconnect storm](bench/reconnect.png)" in text


def test_asgi_section_shows_each_design_its_ratios_and_the_recommendation():
    # given
    def run(p99: float, saves: float, cpu: float, rss: float) -> dict:
        return {"ready": 2000, "saves_per_second": saves, "ack_p50_ms": p99 / 5, "ack_p99_ms": p99,
                "asgi_cpu_percent": cpu, "asgi_rss_mib": rss, "errors": {}, "lost": 0}  # fmt: skip

    asgi = {
        "examinees": 2000,
        "repeats": 1,
        "runs": {
            "daphne×1": [run(200.0, 400.0, 90.0, 300.0)],
            "uvicorn×1": [run(50.0, 401.0, 45.0, 250.0)],
            "daphne×2": [run(150.0, 399.0, 120.0, 560.0)],
            "uvicorn×2": [{"failed": "uvicorn × 2 does not answer"}],
        },
    }

    # when
    text = "\n".join(asgi_lines(asgi))

    # then
    assert "### ASGI servers: daphne and uvicorn, one and two processes" in text
    assert "**One run of each design**" in text
    assert "| daphne×1 | 1 | 2,000 | 400.0 | 40.0 | 200.0 | 1.00 × | 1.00 × | 90.0 | 1.00 × | 300.0 | 0 | 0 |" in text
    assert "| uvicorn×1 | 1 | 2,000 | 401.0 | 10.0 | 50.0 | 0.25 × | 1.00 × | 45.0 | 0.50 × | 250.0 | 0 | 0 |" in text
    assert "| daphne×2 | 1 | 2,000 | 399.0 | 30.0 | 150.0 | 0.75 × |" in text
    assert "| uvicorn×2 | 0 (1 failed) |" in text
    assert "lowest p99 ack without errors or losses is uvicorn×1 (50.0 ms, 0.25 × daphne × 1)" in text
    assert "uvicorn is much faster" in text
    assert "Failed runs: 1" in text


def test_asgi_section_with_repeats_shows_medians_and_spread():
    # given
    def run(p99: float) -> dict:
        return {"ready": 100, "saves_per_second": 20.0, "ack_p50_ms": 3.0, "ack_p99_ms": p99,
                "asgi_cpu_percent": 10.0, "asgi_rss_mib": 100.0, "errors": {}, "lost": 0}  # fmt: skip

    asgi = {"examinees": 100, "repeats": 3, "runs": {"daphne×1": [run(9.0), run(12.0), run(10.0)],
                                                     "uvicorn×1": [run(8.0), run(11.0), run(10.0)]}}  # fmt: skip

    # when
    text = "\n".join(asgi_lines(asgi))

    # then
    assert "Medians of 3 rounds" in text
    assert "| 10.0 (9.0–12.0) | 1.00 × |" in text
    assert "uvicorn is not much faster here" in text


def test_no_pool_section_shows_what_the_pool_buys():
    # given
    pooled = steady_run(1000, p99=40.0, daphne_cpu=50.0, postgres_cpu=20.0)
    without = steady_run(1000, p99=120.0, daphne_cpu=80.0, postgres_cpu=60.0)

    # when
    text = "\n".join(no_pool_lines(without, [steady_run(200, 10.0, 10.0, 5.0), pooled]))

    # then
    assert "`DATABASE_POOL_MAX_SIZE=0`, `CONN_MAX_AGE=0`" in text
    assert "p99 ack 40.0 ms with the pool, 120.0 ms without (**0.33 ×**)" in text
    assert "PostgreSQL CPU 20.0 % with the pool, 60.0 % without (**0.33 ×**)" in text


def test_section_places_the_new_scenarios_and_states_the_run():
    # given
    results = {
        "date": "2026-11-24 09:00 KST",
        "commit": "05feab2",
        "command": "bench/run.py --scenarios reconnect,asgi",
        "machine": {"nproc": "2", "cpu": "test CPU"},
        "scenarios": {
            "reconnect": reconnect_result(),
            "asgi": {"examinees": 10, "repeats": 1, "runs": {}},
            "herd_failed": "Traceback ...\nRuntimeError: herd-1000: the load generator failed (1)",
        },
    }

    # when
    text = section_text(results, {})

    # then
    assert "`bench/run.py --scenarios reconnect,asgi`" in text
    assert "- Date: 2026-11-24 09:00 KST; code: `05feab2`" in text and "2 CPUs (test CPU)" in text
    assert "| reconnect storm (daphne SIGKILLed with 4 connected)" in text
    assert "4 of 4 recovered, the last after 12.2 s; lost 0 | **holds** |" in text
    assert "- `herd`: `RuntimeError: herd-1000: the load generator failed (1)`" in text


def test_asgi_usage_sums_the_server_processes_and_flags_have_defaults():
    # given
    servers = {
        "asgi1": {"cpu_percent": 40.5, "rss_end_mib": 120.0},
        "asgi2": {"cpu_percent": 30.0, "rss_end_mib": 110.5},
        "worker": {"cpu_percent": 9.0, "rss_end_mib": 300.0},
    }

    # when
    usage = asgi_usage(servers)
    options = options_parse([])

    # then
    assert usage == {"asgi_processes_watched": 2, "asgi_cpu_percent": 70.5, "asgi_rss_mib": 230.5}
    assert options.scenarios == ["steady", "herd", "reconnect", "asgi", "flush", "compare", "redis", "soak"]
    assert (options.reconnect_size, options.asgi_size, options.asgi_repeats, options.no_pool_size) == (
        1000, 2000, 3, 1000,
    )  # fmt: skip
    assert options.herd_processes == [1, 2]
    assert (options.steady_processes, options.steady_processes_sizes) == ([2], [5000, 10000])


def _herd_run(examinees: int, ready: int, seconds: float, processes: int, errors: dict) -> dict:
    return {
        "examinees": examinees, "ready": ready, "ready_seconds": seconds, "ready_p50_s": seconds - 2,
        "ready_p99_s": seconds - 0.5, "recover_p99_ms": 900.0, "errors_while_starting": errors,
        "processes": processes, "ready_times": [seconds] * ready,
        "servers_after_ready": {"daphne": {"cpu_percent": 80.0 * processes}, "postgres": {"cpu_percent": 20.0}},
    }  # fmt: skip


def test_the_herd_shows_each_number_of_processes_and_holds_only_if_one_run_of_10000_does():
    # given: one daphne misses with errors, two sharing the port get everybody in within the minute
    busy = {"busy_refusals": 40, "busy_waited_s": 100.0}

    def results(examinees: int) -> dict:
        return {
            "date": "2026-11-24 09:00 KST", "command": "bench/run.py --scenarios herd", "machine": {"nproc": "2"},
            "scenarios": {
                "herd": _herd_run(examinees, examinees - 700, 58.4, 1, {"START-FAILED": 700}),
                # the second came after the admission gate: 40 sockets were told to come back, 2.5 s each
                # and it timed the sign-ins (runs before that show "–")
                "herd_processes": [
                    {**_herd_run(examinees, examinees, 34.6, 2, {}), "counts": busy,
                     "signed_in_p50_s": 8.2, "signed_in_p99_s": 20.1},
                ],
            },
        }  # fmt: skip

    # when
    small, full = section_text(results(2000), {}), section_text(results(10000), {})

    # then
    assert (
        "| daphne × 1 | 2,000 (1,300 ready) | 58.4 | 56.40 / 57.90 | – / – | 900 | – "
        "| START-FAILED ×700 | 80.0 | 20.0 |" in small
    )
    assert (
        "| daphne × 2 | 2,000 (2,000 ready) | 34.6 | 32.60 / 34.10 | 8.20 / 20.10 | 900 | 40, 2.5 | 0 | 160.0 | 20.0 |"
        in small
    )
    assert "daphne × 2: 2,000 of 2,000 in 34.6 s, errors 0 | **not shown** (herd of 2,000) |" in small
    assert "daphne × 2: 10,000 of 10,000 in 34.6 s, errors 0 | **holds** |" in full


def test_the_steady_exam_on_several_processes_has_its_own_rows_and_holds_only_if_a_run_of_10000_does():
    # given: one daphne misses at 10,000; two sharing the port hold at 5,000 and, in the second
    # result, at 10,000 too (the daphne columns of a several-process run are the processes' sums)
    two = [steady_run(5000, 60.0, 0, 30.0), steady_run(10000, 250.0, 0, 60.0)]
    for run in two:
        run["processes"] = 2
        run["servers"] = {
            "asgi1": {"cpu_percent": 70.0, "rss_end_mib": 200.0},
            "asgi2": {"cpu_percent": 75.5, "rss_end_mib": 210.5},
            "postgres": {"cpu_percent": 30.0},
        }
        run["memory_per_examinee_kib"] = {"asgi1": 21.5, "asgi2": 20.0, "worker": 0.1}
        asgi_as_daphne(run)
    holding = [dict(two[0]), {**two[1], "ack_p99_ms": 80.0}]

    def results(runs: list[dict]) -> dict:
        return {
            "date": "2026-11-24 09:00 KST", "command": "bench/run.py --scenarios steady", "machine": {"nproc": "2"},
            "scenarios": {"steady": [steady_run(10000, 997.0, 95.0, 40.0)], "steady_processes": runs},
        }  # fmt: skip

    # when
    missed, held = section_text(results(two), {}), section_text(results(holding), {})

    # then
    assert two[0]["servers"]["daphne"] == {"cpu_percent": 145.5, "rss_end_mib": 410.5}
    assert two[0]["memory_per_examinee_kib"]["daphne"] == 41.5
    assert "The same load on daphne × 2 sharing one port" in missed
    assert "| 10,000 | 10,000 / 10.0 | 2,000.0 | 62.5 / 250.0 / 500.0 |" in missed
    assert "| 145.5 | 410.5 | 41.5 |" in missed
    assert "daphne × 1, largest run 10,000 (10,000 got in): p99 ack 997.0 ms" in missed
    assert "daphne × 2, largest run 10,000 (10,000 got in): p99 ack 250.0 ms" in missed
    assert missed.split("| 10,000 examinees, 5 s saves")[1].split("\n")[0].endswith("| **missed** |")
    assert held.split("| 10,000 examinees, 5 s saves")[1].split("\n")[0].endswith("| **holds** |")


def _soak(redis_used_mib) -> dict:
    """A 30-minute soak whose Redis used_memory at minute m is redis_used_mib(m)."""
    timeline = [
        {"t": 60.0 * m, "daphne": {"rss": 140 * 2**20}, "redis_used_memory": redis_used_mib(m) * 2**20}
        for m in range(31)
    ]
    return {"timeline": timeline, "window": [0.0, 1800.0]}


def test_a_soak_that_levels_off_is_flat_and_a_steady_slope_is_not():
    # given: a cache that fills for 8 minutes, then holds; and one that grows by 0.15 MiB a minute throughout
    levelled = soak_growth(_soak(lambda m: 4 + min(m, 8) * 0.5))
    sloped = soak_growth(_soak(lambda m: 6 + m * 0.15))
    # when / then
    assert levelled["Redis used_memory"] == (7.0, 8.0, 8.0)
    assert (soak_flat(levelled), soak_flat(sloped)) == (True, False)


def test_the_ramp_table_marks_a_repeated_step_and_says_how_a_ramp_ends():
    # given: the naive ramp's first step missed once (a stall), was measured again, then grew
    def step(examinees: int, p99: float, **extra) -> dict:
        return {"examinees": examinees, "ack_p99_ms": p99, "saves": examinees * 4, "errors": 0, **extra}

    ramps = {
        "exam": {"largest_within": 150, "steps": [step(100, 4.0, repeat=False), step(150, 5.0, repeat=False)]},
        "naive": {
            "largest_within": 100,
            "steps": [step(100, 211.0, repeat=False), step(100, 9.0, repeat=True), step(150, 300.0, repeat=False),
                      step(150, 310.0, repeat=True)],
        },
    }  # fmt: skip
    old = {target: {**ramp, "steps": [{k: v for k, v in s.items() if k != "repeat"} for s in ramp["steps"][:1]]}
           for target, ramp in ramps.items()}  # fmt: skip

    def text(ramps: dict) -> str:
        results = {
            "date": "2026-11-24",
            "command": "bench/run.py",
            "machine": {},
            "scenarios": {"compare": {"ramps": ramps}},
        }
        return section_text(results, {})

    # when
    new, before = text(ramps), text(old)

    # then
    assert (
        "| naive design | **100** | 100 → 211 (400 saves); again 100 → 9 (400 saves); 150 → 300 (600 saves); "
        "again 150 → 310 (600 saves) |" in new
    )
    assert "a step over 100 ms is measured once more" in new
    assert "the first step over 100 ms ends the ramp" in before and "again 1" not in before


def test_the_compare_says_whether_the_flood_limit_was_lifted_for_its_rounds():
    # given: one round of each design; a run of this session lifts the limit, an older one did not
    def round_(rate: float, errors: dict) -> dict:
        return {"saves_per_second": rate, "ack_p50_ms": 10.0, "ack_p99_ms": 90.0, "errors": errors, "lost": 0}

    def text(lifted: bool) -> str:
        compare = {
            "connections": 100,
            "rounds": {"echo": [round_(6000.0, {})], "exam": [round_(2100.0, {"SYS-003": 5} if not lifted else {})]},
        }
        if lifted:
            compare["message_budget_lifted"] = True
        results = {"date": "2026-11-25", "command": "bench/run.py", "machine": {}, "scenarios": {"compare": compare}}
        return section_text(results, {})

    # when
    lifted, older = text(True), text(False)

    # then
    assert "flood limit (`EXAM_SOCKET_MESSAGES_PER_SECOND`, 20 a second) is lifted for this server" in lifted
    assert "was in force in this run: the SYS-003 errors are the closed-loop clients going over it" in older
    assert "| our path (/ws/exam/) | 2,100 | **2,100** | 10.0 / 90.0 | – | – | SYS-003 ×5 | 0 |" in older


def test_the_herd_target_is_judged_on_the_run_of_10000_not_on_a_smaller_one_that_held():
    # given: 2,000 on two daphnes held the minute; the extra run of 10,000 (--herd-target) did not
    results = {
        "date": "2026-11-25 09:00 KST", "command": "bench/run.py --scenarios herd", "machine": {"nproc": "2"},
        "scenarios": {
            "herd": _herd_run(2000, 2000, 45.0, 1, {}),
            "herd_processes": [_herd_run(2000, 2000, 34.6, 2, {}), _herd_run(10000, 9000, 61.0, 2, {})],
        },
    }  # fmt: skip
    # when
    text = section_text(results, {})
    # then
    assert "daphne × 2: 9,000 of 10,000 in 61.0 s, errors 0 | **missed** |" in text
    assert "| daphne × 2 | 10,000 (9,000 ready) | 61.0 |" in text


def test_a_herd_of_10000_that_holds_on_another_server_is_named_by_it_and_holds_the_target():
    # given: the herd of 10,000 once per server (--servers): daphne × 2 misses, uvicorn × 2 holds
    results = {
        "date": "2026-12-08 09:00 KST", "command": "bench/run.py --scenarios herd", "machine": {"nproc": "2"},
        "scenarios": {
            "herd": _herd_run(2000, 2000, 20.0, 1, {}),
            "herd_processes": [
                _herd_run(10000, 8000, 130.0, 2, {"SYS-001": 300}),
                {**_herd_run(10000, 10000, 52.5, 2, {}), "server": "uvicorn", "first_answer_after": 30.0},
            ],
        },
    }  # fmt: skip
    # when
    text = section_text(results, {})
    # then
    assert "| uvicorn × 2 | 10,000 (10,000 ready) | 52.5 |" in text
    assert "uvicorn × 2: 10,000 of 10,000 in 52.5 s, errors 0 | **holds** |" in text
    assert "daphne × 2: 8,000 of 10,000 in 130.0 s, errors SYS-001 ×300" in text
    assert "its first answer once the examinee has read the first question:\n30 s (× 0.5–1.5)" in text


def test_a_ramp_whose_naive_side_held_the_top_step_measures_no_ratio():
    # given: both designs held every step up to the ramp's top (3,000)
    steps = [{"examinees": count, "ack_p99_ms": 10.0} for count in (100, 1000, 3000)]
    ramp = {"largest_within": 3000, "steps": steps, "errors": {}, "lost": 0}
    compare = {"connections": 100, "rounds": {}, "ramps": {"exam": ramp, "naive": ramp}}
    results = {"date": "2026-11-25", "command": "bench/run.py", "machine": {}, "scenarios": {"compare": compare}}
    # when
    text = section_text(results, {})
    # then: no "1.0 ×", and the verdict says it was not shown
    assert (
        "| ≥ 5 × as many examinees as the naive design within p99 100 ms | ours 3,000, naive 3,000: the naive design "
        "held the ramp's top step, so the ratio is not measured (≥ 5 × needs ours ≥ 15,000) | **not shown** |"
    ) in text


def test_the_gap_bullets_quote_this_runs_figures():
    """The bullets under "Where the gap to the targets remains" are computed from the results, so a new
    run can never leave an old run's figures standing."""
    # given: steady runs of 1,000 (holds) and 10,000 (misses), a herd, both ramps and the flush
    big = {**steady_run(10000, 640.0, 95.0, 40.0), "ready": 7200, "errors": {"SYS-001": 12}}
    big["servers"]["loadgen"] = {"cpu_percent": 45.0}
    steps = [{"examinees": 1000, "ack_p50_ms": 4.0, "ack_p99_ms": 60.0},
             {"examinees": 1500, "ack_p50_ms": 9.5, "ack_p99_ms": 240.0}]  # fmt: skip
    naive_steps = [{"examinees": 1000, "ack_p50_ms": 30.0, "ack_p99_ms": 90.0},
                   {"examinees": 1500, "ack_p50_ms": 2100.0, "ack_p99_ms": 3800.0}]  # fmt: skip
    results = {
        "date": "2026-11-25 16:00 UTC", "command": "bench/run.py", "machine": {"nproc": "2"},
        "scenarios": {
            "steady": [steady_run(1000, 42.0, 30.0, 10.0), big],
            "herd": _herd_run(10000, 3000, 150.0, 1, {"START-DEADLINE": 7000}),
            "compare": {
                "rounds": {"echo": [{"saves_per_second": 5000.0, "ack_p50_ms": 2.0, "ack_p99_ms": 9.0}],
                           "exam": [{"saves_per_second": 2600.0, "ack_p50_ms": 4.0, "ack_p99_ms": 20.0}]},
                "ramps": {"exam": {"largest_within": 1000, "steps": steps},
                          "naive": {"largest_within": 1000, "steps": naive_steps}},
            },
            "flush": {"median": {"flush_changes_per_second": 9100, "baseline_changes_per_second": 20000,
                                 "ratio": 0.455}},
        },
    }  # fmt: skip

    # when
    gaps = section_text(results, {}).split("Where the gap to the targets remains")[1].split("Why:")[0]

    # then
    assert "The bare echo served 5,000 saves/s and the COPY\n  baseline made 20,000 changes/s" in gaps
    assert "1,000 examinees hold every bound (p99 ack 42.0 ms)" in gaps
    assert "The largest run, 10,000, got 7,200 in before the start deadline, with p99 ack 640.0 ms" in gaps
    assert "errors SYS-001 ×12 and lost 0" in gaps
    assert "180 % of the machine's 200 % (daphne 95 %, the load generator 45 %, PostgreSQL 40 %)" in gaps
    assert "3,000 ready after 150.0 s (20.0 a second, where 10,000 in 60 s needs 167), the generator" in gaps
    assert "ours held 1,000 examinees and the naive design 1,000" in gaps
    assert "At the next step, 1,500, ours had p50 9.5 ms and p99 240 ms, the naive design p50 2,100.0 ms" in gaps
    assert "made 9,100 changes/s against the baseline's 20,000: 46 %" in gaps


def test_the_capacity_bullet_gives_the_cpu_of_a_further_save_and_what_10000_would_need():
    """From the two largest runs that got everybody in: each component's extra CPU over the extra saves
    (1 % of a core for a second is 10 ms), summed, and the CPU 2,000 saves/s would take at that cost; a
    run that did not get everybody in is left out."""
    # given: 2,000 (400 saves/s) and 5,000 (1,000 saves/s) in; 10,000 did not get in
    small, large, partial = (
        steady_run(2000, 50.0, 40.0, 10.0),
        steady_run(5000, 200.0, 70.0, 16.0),
        steady_run(10000, 900.0, 80.0, 20.0),
    )
    partial["ready"] = 7000
    # when
    text = capacity_line([small, large, partial])
    # then: the server (70 - 40) * 10 / 600 = 0.50 ms, PostgreSQL (16 - 10) * 10 / 600 = 0.10 ms;
    # 86 % + 1,000 more saves/s * 0.60 ms / 10 = 146 %
    assert text == (
        "- **Capacity on daphne × 1.** From 2,000 to 5,000 examinees (400 to 1,000 saves/s) each further save"
        " cost 0.60 ms of CPU over all the processes (the server 0.50 ms, PostgreSQL 0.10 ms). At that cost"
        " 10,000 examinees (2,000 saves/s) need about 146 % of CPU, where the machine has 200 % and a p99 of"
        " 100 ms needs some of it idle."
    )
    assert capacity_line([small, partial]) is None
