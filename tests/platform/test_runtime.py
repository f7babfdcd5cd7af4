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


def collector_after_start(threshold: str | None, settings: str) -> tuple[list[int], int]:
    env = {key: value for key, value in os.environ.items() if key != "ASGI_GC_THRESHOLD"}
    env["DJANGO_SETTINGS_MODULE"] = settings
    if threshold is not None:
        env["ASGI_GC_THRESHOLD"] = threshold
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    thresholds, frozen = json.loads(result.stdout.strip().splitlines()[-1])
    return thresholds, frozen


def test_a_server_process_freezes_the_start_up_objects_and_spaces_the_collections():
    """By default a server's ASGI application freezes what start-up built and collects the young
    generation every 50,000 allocations (Python's 700 let full collections stop it every few seconds)."""
    thresholds, frozen = collector_after_start(None, "exam_platform.settings.local")
    assert thresholds == [50_000, 10, 10]
    assert frozen > 10_000  # Django and the apps: about 130k objects


def test_the_threshold_is_a_setting():
    thresholds, _frozen = collector_after_start("40000", "exam_platform.settings.local")
    assert thresholds[0] == 40000


@pytest.mark.parametrize(("threshold", "settings"), [("0", "exam_platform.settings.local"),
                                                     (None, "exam_platform.settings.test")])  # fmt: skip
def test_zero_and_the_test_settings_leave_pythons_collector(threshold, settings):
    """0 (and pytest's process, under the test settings) leaves Python's collector untouched."""
    thresholds, frozen = collector_after_start(threshold, settings)
    assert (thresholds, frozen) == ([700, 10, 10], 0)
