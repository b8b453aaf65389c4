"""The wire between the grader's checks and a submission's process: values as data only.

The checks run in the grader's own process (:mod:`.checker`); the student's functions
run in a sandboxed process of their own (:mod:`.worker`). A check calls a student's
function through a pipe: the arguments go over as data, the function runs in the
sandbox, and what it returned comes back as data. Nothing that arrives from the
sandbox is ever executed or unpickled: a message is JSON, and it decodes only into
numbers, strings, lists, tuples, dicts, NumPy arrays of numbers, and

* a *handle* for any other object the student's code made (a cache, a closure, an
  instance of the student's own class): the object stays in the sandbox, and the
  checker's :class:`Remote` stands for it (calling it, reading an attribute or an item,
  turning it into an array are requests over the wire);
* a Keras layer, model or initializer, by its configuration and weights, rebuilt in the
  checker only from Keras's own public classes (:func:`keras_from_wire`), so that a
  check can compute with the student's Keras model itself.

In the other direction (checker to sandbox) go arrays, numbers, NumPy generators (by
their state) and the package's own objects (an ``MLP``, an optimizer: by their
attributes). Arrays and objects handed to a function are *copied back* after the call
when it changed them, so a function that writes into its arguments does so as it would
in a notebook (and a check that forbids it sees it).

A message is a frame: 8 bytes of length, then that many bytes of UTF-8 JSON.
"""

from __future__ import annotations

import base64
import builtins
import importlib
import json
import os
import select
import struct
import sys
import time

import numpy as np

MAX_MESSAGE = 64 * 2**20  # bytes: a larger frame is refused (a submission cannot flood the checker)
NUMBER_KINDS = "biufc"  # booleans, signed and unsigned integers, floats, complex: no objects
KERAS_MODULES = ("keras", "keras.layers", "keras.initializers", "keras.regularizers",
                 "keras.losses", "keras.optimizers", "keras.metrics", "keras.activations",
                 "keras.constraints", "keras.models")
PACKAGE = "cifar_mlp"


class ProtocolError(Exception):
    """A frame that is not a message of this protocol."""


class WorkerGone(BaseException):
    """The submission's process ended, broke the protocol or ran out of time: no check
    can go on with it. (A BaseException, so that a check's own ``except Exception``
    does not take it for a wrong answer.)"""


class TimedOut(WorkerGone):
    pass


# -- frames -----------------------------------------------------------------------------

def send(fd: int, message: dict) -> None:
    data = json.dumps(message, allow_nan=True).encode()
    view = memoryview(struct.pack(">Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, count: int, deadline: float | None) -> bytes:
    chunks, left = [], count
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimedOut("time limit")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None) -> dict:
    """The next message on ``fd``; :class:`TimedOut` past ``deadline`` (a monotonic time),
    EOFError when the other end closed, :class:`ProtocolError` for anything malformed."""
    (length,) = struct.unpack(">Q", _read_exactly(fd, 8, deadline))
    if length > MAX_MESSAGE:
        raise ProtocolError(f"a message of {length} bytes (the limit is {MAX_MESSAGE})")
    try:
        message = json.loads(_read_exactly(fd, length, deadline))
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message is a JSON object")
    return message


# -- values -----------------------------------------------------------------------------

def _array_to_wire(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a)
    return {"$": "array", "dtype": a.dtype.str, "shape": list(a.shape),
            "data": base64.b64encode(a.tobytes()).decode()}


def _array_from_wire(value: dict) -> np.ndarray:
    try:
        dtype = np.dtype(str(value["dtype"]))
        shape = tuple(int(n) for n in value["shape"])
        data = base64.b64decode(value["data"], validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"a malformed array: {error}") from None
    if dtype.kind not in NUMBER_KINDS or dtype.hasobject or any(n < 0 for n in shape):
        raise ProtocolError(f"an array of {dtype} {shape}: only arrays of numbers travel")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(data):
        raise ProtocolError("an array whose data does not fill its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def is_package_object(value) -> bool:
    """An instance of one of the package's own classes (not its teaching wing)."""
    module = type(value).__module__ or ""
    return ((module == PACKAGE or module.startswith(PACKAGE + "."))
            and not module.startswith(PACKAGE + ".teaching") and hasattr(value, "__dict__"))


class Encoder:
    """Turns a value into JSON-able data. ``handles`` (the sandbox's side) keeps what
    cannot travel and sends a handle for it; without it, such a value is an error.
    ``mutable`` collects, in order, the arrays, generators and objects sent, which the
    other side copies back after a call."""

    def __init__(self, handles: dict | None = None):
        self.handles, self.mutable = handles, []

    def __call__(self, value, depth: int = 0):
        if depth > 100:
            raise ValueError("a value nested more than 100 levels deep")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
            return {"$": "int", "digits": str(value)}  # JSON numbers lose such integers
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, complex):
            return {"$": "complex", "re": value.real, "im": value.imag}
        if isinstance(value, np.ndarray) and value.dtype.kind in NUMBER_KINDS:
            self.mutable.append(value)
            return _array_to_wire(value)
        if isinstance(value, np.generic) and value.dtype.kind in NUMBER_KINDS:
            return {"$": "scalar", "value": _array_to_wire(np.asarray(value))}
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return {"$": "dtype", "name": np.dtype(value).str}
        if isinstance(value, np.random.Generator):
            self.mutable.append(value)
            return {"$": "rng", "kind": type(value.bit_generator).__name__,
                    "state": self(value.bit_generator.state, depth + 1)}
        if isinstance(value, (list, tuple)):
            return {"$": type(value).__name__, "items": [self(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"$": "dict", "items": [[self(k, depth + 1), self(v, depth + 1)]
                                           for k, v in value.items()]}
        if self.handles is None and is_package_object(value):
            self.mutable.append(value)
            cls = type(value)
            return {"$": "object", "class": f"{cls.__module__}:{cls.__qualname__}",
                    "state": self(vars(value), depth + 1)}
        if self.handles is not None:
            converted = _tensor_or_keras(value)
            if converted is not None:
                return converted
            self.handles[id(value)] = value
            return {"$": "handle", "id": id(value), "type": type(value).__name__}
        raise TypeError(f"a {type(value).__name__} cannot be sent to the submission")


def _tensor_or_keras(value):
    """A TensorFlow tensor as an array, a Keras object by its configuration; else None.
    (Only in the sandbox, and only when the student's code has imported them.)"""
    keras = sys.modules.get("keras")
    if keras is not None:
        kinds = (("layer", keras.layers.Layer), ("initializer", keras.initializers.Initializer),
                 ("regularizer", keras.regularizers.Regularizer))
        for kind, cls in kinds:
            if isinstance(value, cls):
                weights = value.get_weights() if kind == "layer" else []
                return {"$": "keras", "kind": kind,
                        "config": keras.saving.serialize_keras_object(value),
                        "weights": [_array_to_wire(np.asarray(w)) for w in weights]}
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, (tf.Tensor, tf.Variable)):
        return _array_to_wire(np.asarray(value))
    return None


class Decoder:
    """Turns data back into values. ``resolve`` maps a handle to its value (the sandbox
    resolves its own handles; the checker makes a :class:`Remote`); ``objects`` says
    whether the package's objects may be rebuilt (the sandbox's side only: the checker
    never builds an object from what the sandbox sent). ``mutable`` collects, in the
    encoder's order, what a call may change."""

    def __init__(self, resolve, objects: bool = False):
        self.resolve, self.objects, self.mutable = resolve, objects, []

    def __call__(self, value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            raise ProtocolError("an untagged list")
        if not isinstance(value, dict):
            raise ProtocolError(f"an unknown value {type(value).__name__}")
        tag = value.get("$")
        if tag in ("list", "tuple"):
            items = [self(v) for v in _list(value.get("items"))]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            pairs = [(self(k), self(v)) for k, v in (_pair(p) for p in _list(value.get("items")))]
            try:
                return dict(pairs)
            except TypeError:
                raise ProtocolError("a dict with an unhashable key") from None
        if tag == "array":
            array = _array_from_wire(value)
            self.mutable.append(array)
            return array
        if tag == "scalar":
            return _array_from_wire(value.get("value") or {})[()]
        if tag == "int":
            digits = str(value.get("digits"))
            if len(digits) > 100:
                raise ProtocolError("an integer of more than 100 digits")
            try:
                return int(digits)
            except ValueError:
                raise ProtocolError(f"not an integer: {digits[:20]!r}") from None
        if tag == "complex":
            return complex(float(value.get("re", 0)), float(value.get("im", 0)))
        if tag == "dtype":
            return _dtype(value.get("name"))
        if tag == "rng":
            rng = _rng(value.get("kind"), self(value.get("state")))
            self.mutable.append(rng)
            return rng
        if tag == "handle":
            return self.resolve(value.get("id"), str(value.get("type", "object")))
        if tag == "keras":
            return keras_from_wire(value)
        if tag == "object" and self.objects:
            obj = _package_object(str(value.get("class")))
            self.mutable.append(obj)
            obj.__dict__.update(self(value.get("state")))
            return obj
        raise ProtocolError(f"an unknown tag {tag!r}")


def _list(value) -> list:
    if not isinstance(value, list):
        raise ProtocolError("a list was expected")
    return value


def _pair(value):
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError("a dict item is a pair")
    return value


def _dtype(name):
    try:
        dtype = np.dtype(str(name))
    except TypeError:
        raise ProtocolError(f"not a dtype: {name!r}") from None
    if dtype.kind not in NUMBER_KINDS:
        raise ProtocolError(f"not a dtype of numbers: {name!r}")
    return dtype


def _rng(kind, state) -> np.random.Generator:
    bit_generators = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM,
                      "Philox": np.random.Philox, "SFC64": np.random.SFC64,
                      "MT19937": np.random.MT19937}
    if kind not in bit_generators:
        raise ProtocolError(f"an unknown generator {kind!r}")
    bit_generator = bit_generators[kind]()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ProtocolError(f"a malformed generator state: {error}") from None
    return np.random.Generator(bit_generator)


def _package_object(dotted: str):
    module_name, _, qualname = dotted.partition(":")
    if not (module_name == PACKAGE or module_name.startswith(PACKAGE + ".")):
        raise ProtocolError(f"not one of the package's classes: {dotted}")
    cls = importlib.import_module(module_name)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    return cls.__new__(cls)


def copy_back(original, changed) -> None:
    """Make ``original`` (what a call was given) hold what the callee left in its copy."""
    if isinstance(original, np.ndarray):
        if (isinstance(changed, np.ndarray) and changed.shape == original.shape
                and original.flags.writeable):
            np.copyto(original, changed, casting="unsafe")
    elif isinstance(original, np.random.Generator):
        if isinstance(changed, np.random.Generator):
            original.bit_generator.state = changed.bit_generator.state
    elif isinstance(changed, dict):  # an object's attributes
        for name, value in changed.items():
            if isinstance(name, str):
                current = getattr(original, name, None)
                if isinstance(current, dict) and isinstance(value, dict):
                    current.clear()
                    current.update(value)
                else:
                    setattr(original, name, value)


# -- Keras objects, rebuilt from Keras's own classes only ---------------------------------

def _check_keras_config(config) -> None:
    """Every class a configuration names must be one of Keras's public classes: no module
    outside Keras, no registered custom object, no Lambda layer (whose code would run)."""
    if isinstance(config, list):
        for item in config:
            _check_keras_config(item)
    elif isinstance(config, dict):
        if "class_name" in config and "module" in config:
            module, name = config["module"], config["class_name"]
            if module not in KERAS_MODULES or name in ("Lambda", "function", "__lambda__"):
                raise ProtocolError(f"a Keras configuration names {module}.{name}: only "
                                    "Keras's own layers, initializers, losses and optimizers "
                                    "can be checked")
            if not hasattr(importlib.import_module(module), str(name)):
                raise ProtocolError(f"{module}.{name} is not one of Keras's classes")
            if config.get("registered_name") not in (None, name):
                raise ProtocolError(f"a registered custom object: {config['registered_name']}")
        for value in config.values():
            _check_keras_config(value)


def keras_from_wire(value: dict):
    """The Keras layer, model or initializer a worker sent, built anew here."""
    from ..keras_runtime import quiet_tensorflow

    _, keras = quiet_tensorflow()
    config = value.get("config")
    _check_keras_config(config)
    try:
        obj = keras.saving.deserialize_keras_object(config, safe_mode=True)
        weights = [_array_from_wire(w) for w in _list(value.get("weights", []))]
        if weights:
            if not obj.built:
                raise ProtocolError("weights for a layer that was never built")
            obj.set_weights(weights)
    except ProtocolError:
        raise
    except Exception as error:
        raise ProtocolError(f"the Keras object could not be rebuilt: "
                            f"{type(error).__name__}: {error}") from None
    return obj


# -- errors -----------------------------------------------------------------------------

class RemoteError(Exception):
    """An exception raised by the student's code in the sandbox."""


_ERRORS: dict = {}


def remote_error(kind: str, message: str) -> Exception:
    """The exception to raise in the checker for one the student's code raised: the
    built-in one of that name when there is one (ValueError, NotImplementedError...), else
    a :class:`RemoteError` subclass of that name. A ``CheckFailed`` (what the sandbox's
    watch raises when an answer calls the package's answer) stays one: it can only fail a
    check, never pass one."""
    if kind == "CheckFailed":
        from .base import CheckFailed
        return CheckFailed(message)
    builtin = getattr(builtins, kind, None)
    if (isinstance(builtin, type) and issubclass(builtin, Exception)
            and not issubclass(builtin, (Warning,))):
        try:
            return builtin(message)
        except TypeError:  # exceptions whose constructor wants other arguments
            pass
    if kind not in _ERRORS:
        _ERRORS[kind] = type(kind if kind.isidentifier() else "RemoteError", (RemoteError,), {})
    return _ERRORS[kind](message)
