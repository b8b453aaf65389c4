"""How the best recipe was chosen: variants of it, each scored on the validation split.

    python scripts/recipe_trials.py                 # every trial not yet in the file (hours)
    python scripts/recipe_trials.py --only NAME ... # these trials, again

Each trial takes the previous best recipe (``PREVIOUS_BEST``: BatchNorm, dropout 0.2,
flips and 4-pixel shifts, Nesterov momentum, L2 5e-5, a cosine schedule) and changes
what its description says; the later ones change the recipe chosen from the first
(``CHOSEN``). It trains on the full training split, scores the validation split after
every epoch (and, at the end, averaged with the mirror images) and never looks at the
test set.
The results are appended to ``results/recipe_trials.json``, which chapter 3 reads.
Trials run one BLAS thread each, two at a time, so their seconds per epoch are not
those of the book's runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import cifar_mlp.train as train_module  # noqa: E402
from cifar_mlp.augment import augment  # noqa: E402
from cifar_mlp.experiments import RECIPES, build  # noqa: E402
from cifar_mlp.preprocess import prepare  # noqa: E402
from cifar_mlp.profiles import PROFILES, load_data  # noqa: E402
from cifar_mlp.train import evaluate, train  # noqa: E402

OUT = REPO / "results" / "recipe_trials.json"
PREVIOUS_BEST = replace(RECIPES["best"], dropout=0.2, l2=5e-5, nesterov=True, label_smoothing=0.0,
                        patience=None)

# name: (what changes, recipe changes, shift in pixels or None for no shifts,
#        input preprocessing: "standardize" or "zca:<epsilon>")
TRIALS = {
    "previous_best_50": ("none: the previous best recipe; 50 epochs", {"epochs": 50}, 4,
                         "standardize"),
    "no_aug_no_dropout_10": ("no augmentation, no dropout; 10 epochs",
                             {"epochs": 10, "augment": False, "dropout": 0.0}, 4, "standardize"),
    "zca_no_aug_no_dropout_10": ("ZCA whitening (epsilon 0.1) instead of standardization, "
                                 "no augmentation, no dropout; 10 epochs",
                                 {"epochs": 10, "augment": False, "dropout": 0.0}, 4, "zca:0.1"),
    "no_dropout_shift4_25": ("no dropout; 25 epochs",
                             {"epochs": 25, "dropout": 0.0}, 4, "standardize"),
    "no_dropout_flips_only_25": ("no dropout, flips only (no shifts); 25 epochs",
                                 {"epochs": 25, "dropout": 0.0}, 0, "standardize"),
    "no_dropout_shift1_25": ("no dropout, shifts of up to 1 pixel; 25 epochs",
                             {"epochs": 25, "dropout": 0.0}, 1, "standardize"),
    "no_dropout_shift2_25": ("no dropout, shifts of up to 2 pixels; 25 epochs",
                             {"epochs": 25, "dropout": 0.0}, 2, "standardize"),
    "no_dropout_shift2_smoothing_25": ("no dropout, shifts of up to 2 pixels, label smoothing "
                                       "0.1; 25 epochs",
                                       {"epochs": 25, "dropout": 0.0, "label_smoothing": 0.1}, 2,
                                       "standardize"),
    "no_dropout_shift2_35": ("no dropout, shifts of up to 2 pixels; 35 epochs",
                             {"epochs": 35, "dropout": 0.0}, 2, "standardize"),
    "no_aug_no_dropout_25": ("no augmentation, no dropout; 25 epochs",
                             {"epochs": 25, "augment": False, "dropout": 0.0}, 4, "standardize"),
    "chosen_35": ("no dropout, shifts of up to 2 pixels, no L2, classical momentum; 35 epochs "
                  "(the chosen recipe)",
                  {"epochs": 35, "dropout": 0.0, "l2": 0.0, "nesterov": False}, 2, "standardize"),
}
# The chosen recipe of chapter 3, as changes to the previous best, and trials that change it.
CHOSEN = {"epochs": 35, "dropout": 0.0, "l2": 0.0, "nesterov": False, "test_time_augmentation": True}
TRIALS.update({
    "chosen_50": ("the chosen recipe; 50 epochs", {**CHOSEN, "epochs": 50}, 2, "standardize"),
    "chosen_batch256_lr01_50": ("the chosen recipe with batches of 256 and learning rate 0.1; "
                                "50 epochs",
                                {**CHOSEN, "epochs": 50, "batch_size": 256, "lr": 0.1}, 2,
                                "standardize"),
    "chosen_wide_35": ("the chosen recipe with a first hidden layer of 2048 units; 35 epochs",
                       {**CHOSEN, "hidden": (2048, 1024, 512)}, 2, "standardize"),
    "chosen_wide_25": ("the chosen recipe with a first hidden layer of 2048 units; 25 epochs",
                       {**CHOSEN, "hidden": (2048, 1024, 512), "epochs": 25}, 2, "standardize"),
    "chosen_35_again": ("the chosen recipe; 35 epochs (again, to score it with mirror images)",
                        CHOSEN, 2, "standardize"),
    "chosen_batch64_35": ("the chosen recipe with batches of 64; 35 epochs",
                          {**CHOSEN, "batch_size": 64}, 2, "standardize"),
})


def zca_whiten(prepared, epsilon: float):
    """ZCA whitening fitted on the training split of unstandardized ``prepared``, in place."""
    mean = prepared.x_train.mean(axis=0)
    pca = PCA().fit(prepared.x_train - mean)
    components, variances = pca.components_.T, pca.explained_variance_
    whitening = ((components / np.sqrt(variances + epsilon)) @ components.T).astype(np.float32)
    x_train, x_val = ((x - mean) @ whitening for x in (prepared.x_train, prepared.x_val))
    scale = x_train.std()
    prepared.x_train, prepared.x_val = x_train / scale, x_val / scale
    return prepared


def run_trial(name: str, data) -> dict:
    description, changes, shift, inputs = TRIALS[name]
    if inputs == "standardize":
        prepared = prepare(data, n_val=5000, seed=0)
    else:
        prepared = zca_whiten(prepare(data, n_val=5000, seed=0, standardize=False),
                              float(inputs.split(":")[1]))
    if shift is not None:  # the shift of every augmented batch of this trial
        train_module.augment = functools.partial(augment, crop_padding=shift)
    recipe = replace(PREVIOUS_BEST, name=name, **changes)
    model, optimizer, schedule = build(recipe, prepared.n_features)
    started = time.perf_counter()
    history = train(model, optimizer, prepared.x_train, prepared.y_train, prepared.x_val,
                    prepared.y_val, epochs=recipe.epochs, batch_size=recipe.batch_size,
                    seed=recipe.seed, schedule=schedule, patience=None,
                    augment_data=recipe.augment, progress=True)
    return {"description": description, "epochs": recipe.epochs,
            "final_val_accuracy": history.val_acc[-1],
            "flip_averaged_val_accuracy": evaluate(model, prepared.x_val, prepared.y_val,
                                                   view_shift=0)[1], "val_accuracy": history.val_acc,
            "train_accuracy": history.train_acc, "minutes": (time.perf_counter() - started) / 60}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=list(TRIALS))
    args = parser.parse_args()
    done = json.loads(OUT.read_text()) if OUT.is_file() else {}
    names = args.only or [name for name in TRIALS if name not in done]
    data = load_data(PROFILES["full"])
    if data.source != "full":
        raise SystemExit("the trials need the full CIFAR-10 (set CIFAR10_DIR)")
    for name in names:
        result = run_trial(name, data)
        done = json.loads(OUT.read_text()) if OUT.is_file() else {}  # trials may run in parallel
        done[name] = result
        OUT.write_text(json.dumps(done, indent=1) + "\n")
        print(f"{name}: validation accuracy {result['final_val_accuracy']:.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
