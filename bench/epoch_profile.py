"""The clock of (f): it times the parts of an epoch with the standard library's profiler
hook, ``sys.setprofile``; nothing in ``cifar_mlp`` is replaced or changed.

For the length of a ``with profiling(epoch_parts(optimizer))`` block, a profile function
sees every call and return of Python functions in the thread that runs the block. The
parts' functions are told apart by their code objects (``function.__code__``, what
cProfile names ``(filename, line, name)``), not by the names the trainer looks them up
by: ``cifar_mlp.layers``' ``affine_forward``, ``affine_backward`` and
``batchnorm_backward`` (which ``cifar_mlp.model`` imports), ``MLP.normalize``, the
optimizer class's ``step``, ``cifar_mlp.augment.augment`` and ``cifar_mlp.train.evaluate``.
A part's seconds run from the call event of one of its functions to that call's return
event (an exception passing through counts as a return), read with ``time.perf_counter``.

A call made inside another timed call counts for the outer one only (validation's matrix
products and normalizations count as validation, a function calling itself counts once),
so that the parts never overlap and ``rest = epoch - parts`` holds. That is why the hook
is a small one of our own rather than ``cProfile.Profile``: cProfile's statistics are kept
per function and per direct caller, so the cumulative time of ``evaluate`` includes the
products of its forward passes, and no statistic tells those products (called by
``MLP.forward_pass``, as the training steps' are) from the training ones, so they could
not be subtracted exactly. (In CPython 3.11, this virtualenv's, cProfile is itself a
``sys.setprofile`` hook: one profile function at a time in a thread, so :func:`profiling`
refuses to start under another profiler.)

Overhead: the hook is a Python function called at every call and return of a Python
function, and every call of a built-in one, in the measuring thread: some 1,700 events a
training step of the best recipe (about 700 inside the optimizer's update, whose thread
pool is Python code; about 170 inside the batch normalizations; a few inside a product),
a few tenths of a microsecond each. On a 2-core machine a step's update took about
0.15 ms (some 5%) longer under the hook; over an epoch of the best recipe (352 steps,
some 600,000 events) that makes an estimated 0.1 s, under 1% of its 13 s (estimated from
these counts: epochs on a shared machine vary by more than that). The epoch's wall time
includes it, in its rest and in the parts with Python calls inside; the products, large
NumPy calls, are the least affected. Threads the measured code starts are not seen by
the hook: the optimizer's update, which ``cifar_mlp.fast`` shares out among threads, is
timed as the measuring thread waits for it, which is its wall time.
"""

from __future__ import annotations

import inspect
import sys
import time
from contextlib import contextmanager

import cifar_mlp.model
import cifar_mlp.train
from cifar_mlp.model import MLP

PRODUCTS = "matrix products"  # the part that an epoch's matrix-product bound is made of
RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def epoch_parts(optimizer) -> dict:
    """The parts an epoch's time is split into, each with the functions whose calls it
    times: the functions the trainer calls, read (not replaced) where it looks them up."""
    return {
        PRODUCTS: [cifar_mlp.model.affine_forward, cifar_mlp.model.affine_backward],
        "batch normalization": [MLP.normalize, cifar_mlp.model.batchnorm_backward],
        "optimizer update": [type(optimizer).step],
        "augmentation": [cifar_mlp.train.augment],
        "validation": [cifar_mlp.train.evaluate],
    }


def where(code) -> tuple:
    """A code object as cProfile and pstats name it: ``(filename, first line, name)``."""
    return code.co_filename, code.co_firstlineno, code.co_name


class PartProfile:
    """Seconds and calls of each part, counted by :meth:`profile` (the profile function
    :func:`profiling` installs) from the calls of the parts' functions; ``timer`` is the
    clock read at a timed call and at its return."""

    def __init__(self, parts: dict, timer=time.perf_counter):
        self.seconds = {part: 0.0 for part in parts}
        self.calls = {part: 0 for part in parts}
        self.parts = {}  # code object -> its part
        for part, functions in parts.items():
            for function in functions:
                code = getattr(function, "__code__", None)
                if code is None:
                    raise TypeError(f"{part}: {function!r} is not a Python function, the "
                                    "profile hook sees no call of it")
                if code.co_flags & RESUMABLE:
                    raise ValueError(f"{part}: {function!r} is a generator or coroutine "
                                     "function, whose every resumption is a call")
                if code in self.parts:
                    raise ValueError(f"{part}: {where(code)} is already timed as "
                                     f"{self.parts[code]!r}")
                self.parts[code] = part
        self.timer = timer
        self.frame = None  # the frame of the timed call under way (None: none)
        self.part, self.started = None, 0.0

    def profile(self, frame, event, arg):
        """The profile function (see ``sys.setprofile``)."""
        if self.frame is None:
            if event == "call":
                part = self.parts.get(frame.f_code)
                if part is not None:
                    self.frame, self.part, self.started = frame, part, self.timer()
        elif event == "return" and frame is self.frame:
            self.seconds[self.part] += self.timer() - self.started
            self.calls[self.part] += 1
            self.frame = self.part = None


@contextmanager
def profiling(parts: dict, timer=time.perf_counter):
    """A :class:`PartProfile` of ``parts`` (see :func:`epoch_parts`), counting the calls
    made inside the ``with`` block by this thread; the hook is removed after the block,
    whatever happens. Refuses to start under another profile function (cProfile's, or any
    other ``sys.setprofile`` hook), and fails after the block when the measured code
    replaced the hook."""
    if sys.getprofile() is not None:
        raise RuntimeError(f"a profiler is already running in this thread "
                           f"({sys.getprofile()!r}): the parts of an epoch cannot be timed")
    clock = PartProfile(parts, timer)
    hook = clock.profile  # one bound method, so that sys.getprofile() returns this object
    sys.setprofile(hook)
    try:
        yield clock
    finally:
        replaced = sys.getprofile() is not hook
        sys.setprofile(None)
        clock.frame = clock.part = None  # a call under way when the block ends is not counted
    if replaced:
        raise RuntimeError("the measured code replaced the profile hook: the parts' times "
                           "are incomplete")
