"""What every exercise's check shares: the registry, the verdict, and comparisons that
say what is wrong.

A check runs the student's functions on inputs drawn afresh at every run (shapes,
values, rates), so that no answer can be memorized, and compares what they return
with the package's own code or with a numerical gradient. It prints one line when
everything agrees; otherwise it raises :class:`CheckFailed` (an AssertionError, so a
notebook run, nbval and the grader all see it) saying what is wrong: a shape, a
gradient error with its size and the index where it is largest, or a common slip by
name.

Before a check runs, :func:`exercise` refuses a function that is the package's own
(the answer imported instead of written), and while the student's function runs it
watches for calls into the functions that answer the exercise (``answers``).
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from dataclasses import dataclass

import numpy as np

from ..gradcheck import relative_error

GRADIENT_BAR = 1e-7  # relative error of an analytic gradient against a numerical one
FLOOR = 1e-2  # entries smaller than this are measured against it (see chapter 2)
PACKAGE = "cifar_mlp"


class CheckFailed(AssertionError):
    """An exercise's check failed; the message says what is wrong."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its check's name (also its grading id), chapter, title, points,
    the minutes it takes a student (an estimate), what it teaches, and the dotted
    names of the functions or classes that answer it (the package's own, or a
    library's), which the student edition hides and a check refuses."""

    name: str
    chapter: int
    title: str
    points: int
    minutes: int
    teaches: str
    answers: tuple = ()


EXERCISES: dict[str, Exercise] = {}


def exercise(chapter: int, title: str, points: int, minutes: int, teaches: str, answers=()):
    """Register a check in :data:`EXERCISES` and make it report as a check should."""
    def register(check):
        info = Exercise(check.__name__, chapter, title, points, minutes, teaches, tuple(answers))
        EXERCISES[info.name] = info

        @functools.wraps(check)
        def run(*functions):
            judge(info, check, [watched(f, info.answers) for f in functions],
                  [package_origin(f) for f in functions],
                  [getattr(f, "__name__", "a function") for f in functions])
        run.exercise, run.check = info, check
        return run
    return register


def judge(info: Exercise, check, functions, origins, names) -> None:
    """Run ``check`` on the student's ``functions`` and say how it went: a line starting
    with ✓, or :class:`CheckFailed` with the exercise's title and what is wrong. A
    function whose origin is the package (``origins``) is refused before anything runs.
    The notebook's check and the grader (:mod:`.checker`) both judge through here."""
    try:
        for name, origin in zip(names, origins):
            if origin:
                fail(f"{name} is the package's own {origin}, not yours: write the function "
                      "yourself")
        check(*functions)
    except CheckFailed as failed:
        raise CheckFailed(f"{info.title}: {failed}") from None
    except NotImplementedError:
        raise CheckFailed(
            f"{info.title}: not written yet (your code raises NotImplementedError): "
            "replace the `raise NotImplementedError()` line with your code") from None
    except Exception as error:  # the reader's code crashed: say so, keep the traceback
        raise CheckFailed(f"{info.title}: your code raised {type(error).__name__}: "
                          f"{error}") from error
    print(f"✓ {info.title}: all checks passed ({info.points} point{'s' * (info.points != 1)})")


# -- the student's own work ------------------------------------------------------------

def _function(obj):
    """The plain function behind a partial, a bound method or a callable object."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return getattr(obj, "__func__", obj)


def package_origin(function) -> str | None:
    """The package's name for ``function`` when it is the package's own (defined in one
    of its modules, or running the same code object as one of its functions), else None."""
    function = _function(function)
    module = getattr(function, "__module__", None) or ""
    if module == PACKAGE or module.startswith(PACKAGE + "."):
        return f"{module}.{getattr(function, '__qualname__', '?')}"
    return _package_codes().get(getattr(function, "__code__", None))


def _package_codes() -> dict:
    """{code object: dotted name} of every function and method of the loaded package."""
    codes = {}
    for name, module in list(sys.modules.items()):
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            for value in vars(module).values():
                for qualname, code in _codes_of(value):
                    if getattr(value, "__module__", None) == name:
                        codes[code] = f"{name}.{qualname}"
    return codes


def _codes_of(obj) -> list:
    """(qualified name, code object) of a function, or of every method of a class."""
    if isinstance(obj, type):
        return [item for member in vars(obj).values() for item in _codes_of(_function(member))]
    if isinstance(obj, types.FunctionType):
        return [(obj.__qualname__, obj.__code__)]
    return []


def resolve(dotted: str):
    """The object a dotted name names (``cifar_mlp.model.MLP.normalize``), or None when
    it does not import (an optional library missing)."""
    module_name, _, attribute = dotted.rpartition(".")
    while module_name:
        try:
            obj = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            attribute = f"{head}.{attribute}"
    else:
        return None
    for part in attribute.split("."):
        obj = getattr(obj, part, None)
    return obj


@functools.lru_cache(maxsize=None)
def answer_codes(answers: tuple) -> dict:
    """{code object: dotted name} of the functions (or classes' methods) named in ``answers``."""
    return {code: dotted for dotted in answers
            for _, code in _codes_of(_function(resolve(dotted)))}


def watched(function, answers: tuple):
    """``function``, made to fail when it calls one of the functions in ``answers``
    (the student's code delegating to the answer instead of computing it)."""
    if not callable(function) or not answers:
        return function

    @functools.wraps(function)
    def run(*args, **kwargs):
        codes, called = answer_codes(answers), []

        def spy(frame, event, arg):
            if event == "call" and frame.f_code in codes:
                called.append(codes[frame.f_code])

        previous = sys.getprofile()
        sys.setprofile(spy)
        try:
            result = function(*args, **kwargs)
        finally:
            sys.setprofile(previous)
        if called:
            fail(f"{getattr(function, '__name__', 'your function')} calls {called[0]}, which "
                  "answers this exercise: write the computation yourself")
        return result
    return run


# -- comparisons -----------------------------------------------------------------------

def fresh_rng() -> np.random.Generator:
    """A generator seeded from the operating system: other inputs at every run."""
    return np.random.default_rng()


def draw_sizes(rng, *ranges) -> list:
    """Distinct random sizes, one per (low, high) range: a product in the wrong order
    then gives the wrong shape."""
    sizes = []
    for low, high in ranges:
        size = int(rng.integers(low, high))
        while size in sizes:
            size += 1
        sizes.append(size)
    return sizes


def draw_classes(rng) -> int:
    """A number of classes other than CIFAR-10's ten: code written for ten shows it."""
    return int(rng.choice([c for c in range(3, 16) if c != 10]))


def draw_away_from(rng, low, high, avoid, margin):
    """A uniform draw in [low, high] at least ``margin`` from ``avoid`` (a usual default)."""
    while True:
        value = float(rng.uniform(low, high))
        if abs(value - avoid) > margin:
            return value


def fail(message: str):
    raise CheckFailed(message)


def checked_array(value, name: str) -> np.ndarray:
    if value is None:
        fail(f"{name} is None: did you forget a `return`?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{name} should be an array of numbers, got {type(value).__name__}")


def checked_shape(value, shape: tuple, name: str, hint: str = "") -> np.ndarray:
    value = checked_array(value, name)
    if value.shape != tuple(shape):
        transposed = len(shape) == 2 and value.shape == tuple(shape)[::-1] and shape[0] != shape[1]
        extra = (" (transposed: a product in the wrong order?)" if transposed else "") + hint
        fail(f"{name} has shape {value.shape}, expected {tuple(shape)}{extra}")
    return value


def unpacked(result, count: int, what: str) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = f"a {type(result).__name__}" + (f" of length {len(result)}"
                                              if isinstance(result, (tuple, list)) else "")
        fail(f"{what} should return {count} values, got {got}")
    return tuple(result)


def all_close(a, b, rtol=1e-6, atol=1e-9) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def largest_difference(yours: np.ndarray, expected: np.ndarray) -> str:
    index = np.unravel_index(np.argmax(np.abs(yours - expected)), yours.shape)
    where = tuple(int(i) for i in index)
    where = where[0] if len(where) == 1 else where
    return (f"largest difference {np.abs(yours - expected)[index]:.2e} at index {where} "
            f"(yours {yours[index]:.6g}, expected {expected[index]:.6g})")


def compare(yours, expected, name: str, slips=(), rtol=1e-6, atol=1e-9):
    """``yours`` must equal ``expected``; a match with one of ``slips`` ((hint, wrong
    value) pairs) names the slip, anything else reports the largest difference."""
    expected = np.asarray(expected, np.float64)
    yours = checked_shape(yours, expected.shape, name)
    if not np.all(np.isfinite(yours)):
        fail(f"{name} holds NaN or infinite values (at index "
              f"{tuple(int(i) for i in np.argwhere(~np.isfinite(yours))[0])})")
    if all_close(yours, expected, rtol, atol):
        return
    for hint, wrong in slips:
        if all_close(yours, wrong, rtol, atol):
            fail(f"{name} is wrong: {hint}")
    fail(f"{name} is wrong: {largest_difference(yours, expected)}")


def compare_gradient(yours, numeric, name: str, slips=()):
    """An analytic gradient against the numerical one: a named slip if it matches one,
    else the relative error, its size and the index where it is largest."""
    numeric = np.asarray(numeric, np.float64)
    yours = checked_shape(yours, numeric.shape, name)
    if not np.all(np.isfinite(yours)):
        fail(f"{name} holds NaN or infinite values")
    error = relative_error(yours, numeric, FLOOR)
    if error < GRADIENT_BAR:
        return
    for hint, wrong in slips:
        if all_close(yours, wrong, 1e-6, 1e-9):
            fail(f"{name} is wrong: {hint}")
    errors = np.abs(yours - numeric) / np.maximum(FLOOR, np.abs(yours) + np.abs(numeric))
    index = np.unravel_index(np.argmax(errors), errors.shape)
    where = tuple(int(i) for i in index)
    fail(f"{name}: gradient error {error:.1e} (relative; below {GRADIENT_BAR:.0e} passes), "
          f"largest at index {where[0] if len(where) == 1 else where}: yours {yours[index]:.6g}, "
          f"numerical {numeric[index]:.6g}")


def assert_unchanged(before, after, what: str) -> None:
    """The student's function must not write into the arrays it was given."""
    if not all(np.array_equal(a, b) for a, b in zip(before, after)):
        fail(f"your function changed {what} it was given (in place): work on a copy "
              "and return new arrays")
