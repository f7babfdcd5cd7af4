"""Process-level tuning of a server process: the ASGI application once it is built, and each Celery
pool process once it starts."""

import gc


def gc_tune(*, threshold: int) -> None:
    """Spaced-out cyclic garbage collections for an ASGI process holding thousands of sockets.

    With Python's default thresholds (700, 10, 10) a daphne holding 5,000 examinees ran a full
    collection, which walks every object of the process, about every two seconds, 600 to 900 ms each
    (measured with gc.callbacks during the steady benchmark: 68 in two minutes). The event loop
    stops meanwhile, so the p99 of `answer.ack` was that pause (1.3 s). The cause is the young
    generation's small threshold: a save's objects that live past two young collections (waiting
    for Redis, some tens of milliseconds) are promoted to the old generation, and the old
    generation's growth triggers the full walk.

    Here the objects alive once the application is built (Django, the URL conf, the apps' modules)
    move to the permanent generation, so no collection walks them again, and the young generation
    is collected every `threshold` container allocations: a save's objects are freed by reference
    counting or by a young collection before they can be promoted. Cycles are still collected;
    memory holds up to `threshold` more container objects between collections. `threshold` <= 0
    changes nothing (the test settings, whose process is pytest's).
    """
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(threshold, middle, old)
