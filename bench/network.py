"""The network that (a) to (e) measure, its matrix-product flops, its batches and its data."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from cifar_mlp.data import load_cifar10
from cifar_mlp.experiments import Recipe
from cifar_mlp.preprocess import prepare
from cifar_mlp.train import minibatches

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results" / "bench.json"
BATCH = 128
EPOCHS = 3  # measured epochs of NumPy and Keras (Keras runs one more, excluded)
SEED_EPOCHS = 2  # epochs of the seed-style trainer
RECIPE = Recipe("bench", mode="rgb", hidden=(1024, 512), lr=0.01, momentum=0.9,
                batch_size=BATCH, epochs=EPOCHS, patience=None,
                description="Benchmark network 3072-1024-512-10, SGD momentum 0.9, batch 128")


def load_prepared():
    return prepare(load_cifar10(cache_dir=REPO / "data"), "rgb")


def matmul_flops(sizes, n: int) -> dict:
    """Flops (2 per multiply-add) of the forward and backward matrix products of one step."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * n * a * b for a, b in pairs)
    input_grads = sum(2 * n * a * b for a, b in pairs[1:])  # the first layer needs no dx
    return {"forward": forward, "weight_grads": forward, "input_grads": input_grads,
            "total": 2 * forward + input_grads}


def steps_per_epoch(prepared) -> int:
    """Batches of BATCH in an epoch of the training split, the last smaller one included."""
    return -(-len(prepared.x_train) // BATCH)


def dashed(sizes) -> str:
    """Layer sizes as the book writes them: 3072-1024-512-10."""
    return "-".join(map(str, sizes))


def network(prepared) -> dict:
    sizes = RECIPE.layer_sizes(prepared.n_features)
    return {"layer_sizes": sizes, "batch_size": BATCH, "dtype": str(prepared.x_train.dtype),
            "n_train": len(prepared.x_train), "n_val": len(prepared.x_val),
            "steps_per_epoch": steps_per_epoch(prepared),
            "matmul_flops_per_step": matmul_flops(sizes, BATCH), "recipe": asdict(RECIPE)}


def full_batches(prepared, rng):
    """Full batches of ``train.minibatches``, epoch after epoch, without end."""
    while True:
        for x, y in minibatches(prepared.x_train, prepared.y_train, BATCH, rng):
            if len(y) == BATCH:
                yield x, y
