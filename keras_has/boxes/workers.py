"""The thread pool that spreads the box functions over images.

One thread per core by default: OpenCV and NumPy release the GIL, and
`cv2.findContours` is single-threaded. Pools are shared by size and kept for
the process's life.
"""

import atexit
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from keras_has._arguments import as_int

_pools = {}  # thread pools by size, kept for the process's life
_pools_lock = threading.Lock()


def default_num_workers():
    """Threads used over images when `num_workers` is None: one per core."""
    return max(1, min(os.cpu_count() or 1, 8))


def check_workers(num_workers):
    """`num_workers`, an int >= 1 or None (`default_num_workers()`), as an int."""
    workers = as_int(num_workers, "num_workers", minimum=1, none=True)
    return default_num_workers() if workers is None else workers


def thread_map(fn, items, num_workers):
    """`[fn(item) for item in items]`, over a shared thread pool.

    `fn` must not itself wait on the pool (tasks call OpenCV and NumPy only).
    """
    items = list(items)
    workers = check_workers(num_workers)
    if workers == 1 or len(items) < 2:
        return [fn(item) for item in items]
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(
                workers, thread_name_prefix="keras_has.boxes"
            )
    return list(pool.map(fn, items))


@atexit.register
def _shutdown_pools():
    for pool in _pools.values():
        pool.shutdown(wait=False)
