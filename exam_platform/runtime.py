"""Process-level tuning of a server process, applied once when the ASGI application is built."""

import gc


def gc_tune(*, threshold: int) -> None:
    """Fewer and cheaper cyclic garbage collections (../shared/PERFORMANCE.md: a rare collector gave
    1.3-1.6 times the messages per second on the answer path).

    Most of a message's objects are freed by reference counting; the cyclic collector still walks
    the young objects every 700 container allocations, and now and then every object of the
    process. The objects alive once the application is built (Django, the URL conf, the apps'
    modules) move to the permanent generation, so no collection walks them again, and the first
    generation is collected every `threshold` allocations. Cycles are still collected, later, so
    memory holds up to `threshold` more container objects between collections. `threshold` <= 0
    changes nothing.
    """
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(threshold, middle, old)
