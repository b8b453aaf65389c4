"""The clock of (f): it times the parts of an epoch by swapping module attributes.

For the length of a ``with timing(epoch_parts(optimizer))`` block, ``cifar_mlp.model``'s
``affine_forward``, ``affine_backward`` and ``batchnorm_backward``, ``MLP.normalize``,
the optimizer class's ``step``, and ``cifar_mlp.train``'s ``augment`` and ``evaluate``
are replaced by timing wrappers; the originals are put back after it, whatever happens.

To be replaced by timing hooks that the training code offers: patching works only as
long as the trainer looks these functions up by these names at call time, and the bench
has to know the package's insides to do it. Offering hooks changes the training modules
(and so retrains every model of the book), so it is a task of its own; until then this
module is the only place in the bench that patches anything.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager

import cifar_mlp.model
import cifar_mlp.train
from cifar_mlp.model import MLP

PRODUCTS = "matrix products"  # the part that an epoch's matrix-product bound is made of


def epoch_parts(optimizer) -> dict:
    """The parts an epoch's time is split into, each with the functions whose calls it
    times: (where the trainer looks the function up, its name)."""
    return {
        PRODUCTS: [(cifar_mlp.model, "affine_forward"), (cifar_mlp.model, "affine_backward")],
        "batch normalization": [(MLP, "normalize"), (cifar_mlp.model, "batchnorm_backward")],
        "optimizer update": [(type(optimizer), "step")],
        "augmentation": [(cifar_mlp.train, "augment")],
        "validation": [(cifar_mlp.train, "evaluate")],
    }


class PartClock:
    """Seconds and calls of each part, from the functions :meth:`wrap` wraps. A call made
    inside another timed call counts for the outer one only (validation's matrix products
    count as validation), so that the parts never overlap."""

    def __init__(self, parts):
        self.seconds = {part: 0.0 for part in parts}
        self.calls = {part: 0 for part in parts}
        self.running = False

    def wrap(self, part: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if self.running:
                return function(*args, **kwargs)
            self.running, started = True, time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started
                self.calls[part] += 1
                self.running = False
        return timed


@contextmanager
def timing(parts: dict):
    """A :class:`PartClock` whose wrappers replace the functions of ``parts`` (see
    :func:`epoch_parts`) inside the ``with`` block; the originals are back after it,
    whatever happens."""
    clock, originals = PartClock(parts), []
    try:
        for part, places in parts.items():
            for owner, name in places:
                original = vars(owner)[name]
                originals.append((owner, name, original))
                setattr(owner, name, clock.wrap(part, original))
        yield clock
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
