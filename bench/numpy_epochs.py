"""(c) NumPy seconds per epoch: the book's trainer, ``cifar_mlp.train.train``, and a raw
loop of train steps."""

from __future__ import annotations

from dataclasses import replace

from cifar_mlp.experiments import Recipe, build
from cifar_mlp.runs import train_recipe as train_as_the_book

from bench.network import EPOCHS, RECIPE
from bench.timers import epochs_record, timed_epochs


def train_recipe(recipe: Recipe, prepared, built, epochs: int):
    """``built`` (the model, optimizer and schedule of ``build(recipe, ...)``) trained for
    ``epochs`` epochs as the book trains ``recipe`` (:func:`cifar_mlp.runs.train_recipe`);
    returns the History."""
    return train_as_the_book(replace(recipe, epochs=epochs), prepared.x_train, prepared.y_train,
                             prepared.x_val, prepared.y_val, built=built)[1]


def numpy_epochs_train(prepared, epochs: int = EPOCHS) -> dict:
    """``cifar_mlp.train.train``: what the book's numbers are made of."""
    history = train_recipe(RECIPE, prepared, build(RECIPE, prepared.n_features), epochs)
    return epochs_record(history.seconds, "cifar_mlp.train.train: minibatches, loss + gradients "
                         "(training accuracy from the same logits), SGD update, validation each "
                         "epoch", val_accuracy=history.val_acc)


def numpy_epochs_raw(prepared, epochs: int) -> dict:
    """A bare loop of train steps: no accuracy, no validation."""
    model, optimizer, _ = build(RECIPE, prepared.n_features)

    def train_step(x, y):
        optimizer.step(model.params, model.loss(x, y)[1])

    return epochs_record(timed_epochs(train_step, prepared, epochs), "raw loop: "
                         "train.minibatches, model.loss, SGD update; no accuracy, no validation")
