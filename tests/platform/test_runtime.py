"""The ASGI process's garbage-collector tuning (exam_platform.runtime.gc_tune, ASGI_GC_THRESHOLD).

Each case builds the ASGI application in a subprocess, because the collector is process-wide.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import gc, json, exam_platform.asgi; print(json.dumps([gc.get_threshold(), gc.get_freeze_count()]))"


def collector_after_start(threshold: str | None) -> tuple[list[int], int]:
    env = {key: value for key, value in os.environ.items() if key != "ASGI_GC_THRESHOLD"}
    if threshold is not None:
        env["ASGI_GC_THRESHOLD"] = threshold
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    thresholds, frozen = json.loads(result.stdout.strip().splitlines()[-1])
    return thresholds, frozen


def test_a_threshold_freezes_the_start_up_objects_and_spaces_the_collections():
    """With ASGI_GC_THRESHOLD set, the first generation's threshold is it and the start-up objects are frozen."""
    thresholds, frozen = collector_after_start("40000")
    assert thresholds[0] == 40000
    assert thresholds[1:] == [10, 10]
    assert frozen > 10_000  # Django and the apps: about 130k objects


@pytest.mark.parametrize("threshold", [None, "0"])
def test_without_a_threshold_the_collector_is_pythons(threshold):
    """Unset or 0 leaves Python's collector untouched."""
    thresholds, frozen = collector_after_start(threshold)
    assert (thresholds, frozen) == ([700, 10, 10], 0)
