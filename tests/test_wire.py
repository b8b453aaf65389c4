"""The wire between the checks and a submission's process: values travel as data, what
comes from the submission is never executed, and calls behave as they do in a notebook
(in-place changes, exceptions, objects that cannot travel)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cifar_mlp.model import MLP
from cifar_mlp.optim import SGD
from cifar_mlp.teaching import sandbox, wire
from cifar_mlp.teaching.checker import Client, PACKAGE_DIR, Remote


def round_trip(value, objects=True):
    return wire.Decoder(lambda handle, kind: (handle, kind), objects=objects)(
        json.loads(json.dumps(wire.Encoder()(value))))


def test_data_round_trips_exactly():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), 3: (1, 2.5, None, True),
             "big": 2**127 + 5, "z": 1 + 2j, "s": np.int16(-4), "dt": np.dtype(np.float64),
             "nan": np.array([np.nan, np.inf]), "u8": np.array([[255]], np.uint8)}
    back = round_trip(value)
    assert back.keys() == value.keys() and back["big"] == 2**127 + 5 and back["s"] == -4
    assert back[3] == (1, 2.5, None, True) and back["z"] == 1 + 2j and back["dt"] == np.float64
    for key in ("a", "nan", "u8"):
        assert back[key].dtype == value[key].dtype
        np.testing.assert_array_equal(back[key], value[key])


def test_a_generator_travels_by_its_state():
    rng = np.random.default_rng(7)
    assert np.array_equal(round_trip(rng).random(5), np.random.default_rng(7).random(5))


def test_the_packages_objects_travel_to_the_sandbox_only():
    model = MLP([3, 4, 2], batchnorm=True, seed=1, dtype=np.float64)
    copy = round_trip(model)
    assert isinstance(copy, MLP) and copy is not model
    np.testing.assert_array_equal(copy.forward(np.ones((2, 3))), model.forward(np.ones((2, 3))))
    with pytest.raises(wire.ProtocolError, match="unknown tag 'object'"):
        round_trip(SGD(0.1), objects=False)  # the checker never builds an object it was sent


@pytest.mark.parametrize("message, error", [
    ({"$": "array", "dtype": "|O", "shape": [1], "data": ""}, "only arrays of numbers"),
    ({"$": "array", "dtype": "<f8", "shape": [3], "data": "AAAA"}, "does not fill"),
    ({"$": "object", "class": "os:system", "state": {"$": "dict", "items": []}}, "unknown tag"),
    ({"$": "pickle", "data": ""}, "unknown tag"),
    ([1, 2], "untagged list"),
    ({"$": "int", "digits": "9" * 200}, "more than 100 digits"),
])
def test_what_the_checker_refuses(message, error):
    with pytest.raises(wire.ProtocolError, match=error):
        wire.Decoder(lambda handle, kind: None)(message)


@pytest.mark.parametrize("layer, error", [
    ({"module": "keras.layers", "class_name": "Lambda", "config": {}}, "only Keras's own"),
    ({"module": "os", "class_name": "system", "config": {}}, "only Keras's own"),
    ({"module": "keras.layers", "class_name": "Dense", "registered_name": "evil>Dense",
      "config": {"units": 2}}, "registered custom object"),
    ({"module": "keras.layers", "class_name": "NoSuchLayer", "config": {}}, "not one of Keras's"),
])
def test_a_keras_configuration_names_keras_classes_only(layer, error):
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"layers": [layer]}, "registered_name": None}
    with pytest.raises(wire.ProtocolError, match=error):
        wire.keras_from_wire({"$": "keras", "kind": "layer", "config": config, "weights": []})


def test_a_frame_too_large_is_refused_before_it_is_read():
    read, write = os.pipe()
    os.write(write, (wire.MAX_MESSAGE + 1).to_bytes(8, "big"))
    with pytest.raises(wire.ProtocolError, match="limit"):
        wire.receive(read, time.monotonic() + 5)
    os.close(read), os.close(write)


ANSWERS = """\
class Box:
    def __init__(self, value):
        self.value = value

    def twice(self):
        return 2 * self.value


def scale_in_place(x, factor):
    x *= factor
    return Box(x.sum())


def train_in_place(model, optimizer):
    model.params["W1"][...] = 1.0
    optimizer.lr = 0.5
    return len(model.params)


def raises(kind):
    raise {"value": ValueError, "todo": NotImplementedError}[kind]("from the answer")
"""


@pytest.fixture
def client(tmp_path):
    """A worker (unfenced: this tests the wire, not the fence) holding ANSWERS."""
    import shutil

    shutil.copytree(PACKAGE_DIR, tmp_path / "lib" / "cifar_mlp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "job.json").write_text(json.dumps(
        {"setup": ["import numpy as np"], "answers": {"all": ANSWERS}}))
    process = sandbox.start([sys.executable, "-s", "-m", "cifar_mlp.teaching.worker", "job.json"],
                            tmp_path, {"PYTHONPATH": str(tmp_path / "lib")}, fenced=False,
                            time_limit=60, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    started = time.monotonic()
    connection = Client(process, started + 60, started)
    assert connection.receive() == {"ready": {"all": None}}
    yield connection
    sandbox.end(process)


def function(client, name):
    return client.decode(client.request(op="function", name=name, answers=[])["function"])


def test_a_call_changes_the_callers_arrays_in_place_and_returns_a_handle(client):
    x = np.arange(4.0)
    box = function(client, "scale_in_place")(x, 3.0)
    np.testing.assert_array_equal(x, [0, 3, 6, 9])  # as in a notebook: x *= factor
    assert isinstance(box, Remote) and type(box).__name__ == "Box"
    assert box.value == 18.0 and box.twice() == 36.0


def test_the_packages_objects_come_back_changed(client):
    model, optimizer = MLP([3, 4, 2], seed=0, dtype=np.float64), SGD(0.1)
    assert function(client, "train_in_place")(model, optimizer) == len(model.params)
    np.testing.assert_array_equal(model.params["W1"], np.ones((3, 4)))
    assert optimizer.lr == 0.5


def test_the_answers_exceptions_are_raised_by_name_never_as_a_verdict(client):
    raises = function(client, "raises")
    with pytest.raises(ValueError, match="from the answer"):
        raises("value")
    with pytest.raises(NotImplementedError):
        raises("todo")
    with pytest.raises(NameError, match="not defined in the answer cell"):
        function(client, "nowhere")
