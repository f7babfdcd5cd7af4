"""The garbage-collector tuning of the ASGI and Celery processes (exam_platform.runtime.gc_tune,
ASGI_GC_THRESHOLD, WORKER_GC_THRESHOLD).

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


WORKER_PROBE = (
    "import gc, json, django; django.setup(); from exam_platform.celery import worker_process_tune; "
    "before = gc.get_threshold(); worker_process_tune(); "
    "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count()]))"
)


def test_a_celery_pool_process_spaces_its_collections_too():
    """worker_process_init tunes each pool process with WORKER_GC_THRESHOLD (the flush parses
    thousands of entries a batch); Python's collector is untouched until the signal."""
    env = {key: value for key, value in os.environ.items() if key != "WORKER_GC_THRESHOLD"}
    env.update(DJANGO_SETTINGS_MODULE="exam_platform.settings.local", WORKER_GC_THRESHOLD="30000")
    result = subprocess.run(
        [sys.executable, "-c", WORKER_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        check=True,
    )  # fmt: skip
    before, after, frozen = json.loads(result.stdout.strip().splitlines()[-1])
    assert before == [700, 10, 10]
    assert after == [30000, 10, 10]
    assert frozen > 10_000
