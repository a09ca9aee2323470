"""The LintSeq job on a Ray cluster: the same ``process_line`` work, spread over the cluster's CPUs.

The caller (``datagen``) hands its work function over, so this module does not import it back.

Every sample's seed is derived from (seed, id, sample) and results come back in input order, so the records are
byte-for-byte those of the local backend whatever the number of nodes or workers. Ray is the ``scale`` extra
(``pip install 'editseq[scale]'``); it is imported only when this backend runs.

A real cluster: install EditSeq with the extra on every node, start the head (``ray start --head``) and the workers
(``ray start --address HEAD:6379``), then run ``editseq lintseq IN -o OUT --backend ray --address HEAD:6379
--workers N`` on the head, where N is about the cluster's CPU count (it bounds the batches in flight).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

BATCH = 16  # input lines per Ray task: one line takes milliseconds, a task's overhead about a millisecond


def _process_batch(tasks: list[tuple[int, str, frozenset[int]]], work: Callable, options) -> list:
    return [work(line_no, line, options, skip) for line_no, line, skip in tasks]


def _batches(tasks: Iterable, size: int) -> Iterator[list]:
    iterator = iter(tasks)
    while chunk := list(islice(iterator, size)):
        yield chunk


def ray_outcomes(
    tasks: Iterable, work: Callable, options, *, workers: int = 1, address: str | None = None
) -> Iterator:
    """``work(line_no, line, options, skip)`` (``datagen.process_line``) of each of ``tasks``, computed by Ray
    tasks, in input order.

    Joins the cluster at ``address`` (``"auto"`` for the one this machine belongs to), uses an already initialised
    Ray, or starts a local one with ``workers`` CPUs, and shuts down only a Ray it started itself.
    """
    try:
        import ray
    except ImportError:
        raise ValueError("the ray backend needs Ray: pip install 'editseq[scale]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(_process_batch)
        shared = ray.put(options)
        in_flight: deque = deque()
        # Enough tasks queued to keep every CPU busy, few enough that results do not pile up in the object store.
        window = 2 * max(1, workers)
        for chunk in _batches(tasks, BATCH):
            in_flight.append(remote.remote(chunk, work, shared))
            if len(in_flight) >= window:
                yield from ray.get(in_flight.popleft())
        while in_flight:
            yield from ray.get(in_flight.popleft())
    finally:
        if started_here:
            ray.shutdown()
