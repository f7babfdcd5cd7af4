"""bench/run.py helpers: the Lua scripts load without Django; redis-benchmark rows are read right."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_lua_scripts_load_without_django_apps():
    """Importing answers.redis_scripts must not need Django's app registry (it did: the redis scenario failed)."""
    # given
    code = "from answers.redis_scripts import SYNC_APPLY; print(len(SYNC_APPLY) > 0)"
    # when
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    # then
    assert (result.returncode, result.stdout.strip()) == (0, "True"), result.stderr[-2000:]


def test_a_redis_benchmark_row_with_unescaped_json_is_read_from_its_end():
    """redis-benchmark repeats the command (with JSON arguments, unescaped) in its first CSV column."""
    # given
    from bench.run import redis_benchmark_row

    output = (
        '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
        '"max_latency_ms"\n'
        '"EVALSHA ab 4 {"a": "x, y", "status": "IN_PROGRESS"}","12345.67","1.000","0.100","0.900","1.500",'
        '"2.000","3.000"\n'
    )
    # when
    row = redis_benchmark_row(output)
    # then
    assert (row["rps"], row["p50_latency_ms"], row["p99_latency_ms"]) == (12345.67, 0.9, 2.0)
