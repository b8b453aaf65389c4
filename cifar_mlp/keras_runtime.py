"""TensorFlow and Keras, imported quietly (chapter 4's Keras side starts here).

TensorFlow is imported lazily, by :func:`quiet_tensorflow`, the one place that sets its
logging: importing the package's Keras modules stays light.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager, nullcontext


def quiet_tensorflow():
    """Import TensorFlow and Keras with their logs silenced; return ``(tf, keras)``.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless already set) before the first import and
    turns absl's and TensorFlow's Python loggers down to errors. Two C++ libraries still
    print start-up lines (absl's "All log messages before absl::InitializeLog()" and
    oneDNN's notice) straight to the process's standard error while they load, which
    no setting reaches: the first import runs with that file descriptor pointed at
    /dev/null (:func:`c_stderr_silenced`). Safe to call any number of times.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with c_stderr_silenced() if "tensorflow" not in sys.modules else nullcontext():
        import tensorflow as tf
        import keras
    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    tf.autograph.set_verbosity(0)
    return tf, keras


@contextmanager
def c_stderr_silenced():
    """File descriptor 2 (what C and C++ code writes to as standard error) pointed at
    /dev/null for the duration, and restored after; Python's own errors still raise."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def dataset_options(tf):
    """tf.data options with autotuning off: no ~9 s stalls when an epoch's pipeline shuts down."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options
