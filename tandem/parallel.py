"""Forked worker processes for ``tandem.evaluate_batch(..., processes=N)``.

A batch is split into contiguous chunks of designs; each chunk but the last is evaluated in a
child forked from the calling process (so it inherits the warmed caches: materials on the grid,
the traced texture geometry), the last one in the caller itself. The children send their results
back through a pipe (pickled); an exception in a child reaches the caller as the same exception
type and message (its traceback as the ``__cause__``), a child that dies (killed, out of memory)
raises a one-line RuntimeError instead of hanging.

Pure plumbing: no physics here; ``tandem.evaluation`` decides what a chunk is.
"""
from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import pickle
import sys
import traceback
from typing import Callable, Sequence

#: below this many designs per process (after the warm-up), forking costs more than it saves
MIN_DESIGNS_PER_PROCESS = 4


def resolve_processes(processes: int | None) -> int:
    """Number of processes asked for: ``None`` or 0 -> the CPUs this process may run on."""
    if processes is None or (isinstance(processes, int) and not isinstance(processes, bool) and processes == 0):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 0:
        raise ValueError(f"processes must be an integer >= 0 (0 or None: one per available CPU), got {processes!r}")
    return processes


def can_fork() -> bool:
    """Whether this process may fork workers: Linux, and not itself a daemonic process (the
    studies batch helper, or a worker of this module), which multiprocessing forbids to have
    children."""
    return sys.platform.startswith("linux") and not mp.current_process().daemon


def split(indices: Sequence[int], parts: int) -> list[list[int]]:
    """``indices`` in ``parts`` contiguous chunks, sizes differing by at most one, larger first."""
    n = len(indices)
    base, extra = divmod(n, parts)
    out, start = [], 0
    for p in range(parts):
        stop = start + base + (p < extra)
        out.append(list(indices[start:stop]))
        start = stop
    return out


class ChildTraceback(Exception):
    """The traceback of an exception raised in a worker process (set as its ``__cause__``)."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


def _portable(exc: BaseException):
    """``exc`` itself if it survives pickling, else (module, qualified name, message)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return (type(exc).__module__, type(exc).__qualname__, str(exc))


def _rebuild(payload) -> BaseException:
    """The exception a child sent: itself, or one of the same type with the same message, or a
    RuntimeError naming the type when that type cannot be built from a message."""
    if isinstance(payload, BaseException):
        return payload
    module, qualname, message = payload
    try:
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return cls(message)
    except Exception:
        pass
    return RuntimeError(f"{module}.{qualname}: {message}")


def _child(conn, work: Callable, chunk: list[int]) -> None:
    try:
        payload = ("ok", work(chunk))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
        payload = ("error", _portable(exc), traceback.format_exc())
    try:
        conn.send(payload)
    except Exception as exc:  # an unpicklable result
        conn.send(("error", _portable(exc), traceback.format_exc()))
    finally:
        conn.close()


def run_chunks(work: Callable[[list[int]], object], chunks: Sequence[list[int]], what: str = "evaluate_batch") -> list:
    """``[work(c) for c in chunks]``, every chunk but the last in a forked child, the last here.

    Parameters
    ----------
    work : callable
        ``work(chunk) -> result`` for a list of indices; runs in the forked children as it is
        (nothing of it is pickled), its result travels back pickled.
    chunks : sequence of list of int
        One entry per process (>= 1).
    what : str
        Name of the caller, for the error of a child that died.

    Returns
    -------
    list
        The results, in the order of ``chunks``.

    Raises
    ------
    Exception
        The first failing chunk's exception (in chunk order), of the type and with the message
        it had in the child.
    RuntimeError
        A child ended without sending its result (killed, e.g. by the out-of-memory killer).
    """
    ctx = mp.get_context("fork")
    children = []
    try:
        for chunk in chunks[:-1]:
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, work, chunk), daemon=True, name=f"qdtandem-{what}")
            proc.start()
            send.close()  # only the child holds the write end: its death is an EOF here
            children.append((proc, recv, chunk))
        outcomes = []
        try:
            own = ("ok", work(chunks[-1]))
        except Exception as exc:
            own = ("error", exc, None)
        for proc, recv, chunk in children:
            try:
                outcomes.append(recv.recv())
            except EOFError:
                proc.join()
                code = proc.exitcode
                how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
                outcomes.append(("died", RuntimeError(
                    f"{what}: the worker process for designs {chunk[0]}-{chunk[-1]} {how} before returning its "
                    f"results (out of memory?); try processes=1"), None))
            finally:
                recv.close()
        outcomes.append(own)
        for status, value, *tb in outcomes:
            if status == "ok":
                continue
            exc = _rebuild(value)
            if tb and tb[0]:
                raise exc from ChildTraceback(tb[0])
            raise exc
        return [value for _, value in outcomes]
    finally:
        for proc, recv, _ in children:
            if proc.is_alive():
                proc.terminate()
            proc.join()
            recv.close()
