"""bench/run.py loads the answer path's Lua scripts for redis-benchmark without setting Django up."""

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
