"""How the best recipe was chosen: variants of it, each scored on the validation split.

    python scripts/recipe_trials.py                 # every trial not yet in the file (hours)
    python scripts/recipe_trials.py --only NAME ... # these trials, again

Each trial is a :class:`~cifar_mlp.experiments.Recipe`: the recipe it starts from with
the changes its description names. It trains through the same code as every model of
the book (:meth:`cifar_mlp.runs.NumpyFramework.fit`) on the full training split, scores
the validation split after every epoch (and, at the end, averaged with the mirror images)
and never looks at the test set. The results are appended to
``results/recipe_trials.json``, which chapter 3 reads.

Five rounds. The first varied an earlier best recipe (``PREVIOUS_BEST``: BatchNorm,
dropout 0.2, flips and 4-pixel shifts, Nesterov momentum, L2 5e-5, a cosine schedule);
the second varied the recipe chosen in the first (``CHOSEN``); the third repeats the
chosen recipe with other seeds, which says how far apart two runs of one recipe end, and
varies it once more, with L2 weight decay. The fourth compares ZCA whitening (chapter 1)
with standardization on that recipe shortened to 10 epochs, and the fifth trains it at
full length on the epsilon the fourth found best: the book's best recipe
(``RECIPES["best"]``) is the chosen one with the third round's L2, on the fifth round's
whitened inputs. Trials run one BLAS thread each, two at a time, so their minutes are
not those of the book's runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cifar_mlp.experiments import RECIPES, recipe_inputs  # noqa: E402
from cifar_mlp.preprocess import prepare  # noqa: E402
from cifar_mlp.profiles import PROFILES, load_data  # noqa: E402
from cifar_mlp.runs import NUMPY  # noqa: E402
from cifar_mlp.train import evaluate  # noqa: E402

OUT = REPO / "results" / "recipe_trials.json"
# The trials before the fifth round trained on standardized inputs: the recipes they
# start from are the best recipe without its whitening.
STANDARDIZED_BEST = replace(RECIPES["best"], whitening=None)
PREVIOUS_BEST = replace(STANDARDIZED_BEST, dropout=0.2, l2=5e-5, nesterov=True, augment_shift=4,
                        test_shift=None, patience=None, description="")
# The recipe chosen in the first round, as changes to the previous best.
CHOSEN = {"dropout": 0.0, "l2": 0.0, "nesterov": False, "augment_shift": 2, "epochs": 35}
CHOSEN_RECIPE = replace(PREVIOUS_BEST, **CHOSEN)

# The fourth round's inputs: (name suffix, description, recipe changes).
WHITENING_TRIALS = [("", "standardized inputs", {}),
                    ("_zca0.1", "ZCA whitening with epsilon 0.1", {"whitening": 0.1}),
                    ("_zca1", "ZCA whitening with epsilon 1", {"whitening": 1.0})]
FULL_LENGTH_EPSILON = 1.0  # the fifth round's: the fourth round's best (a test checks it)


def trial(description: str, start, standardize: bool = True, **changes) -> tuple:
    """A trial: its description, its recipe, and whether its inputs are standardized
    per pixel before anything else (the recipe's own ``whitening`` comes after)."""
    return description, replace(start, **changes), standardize


TRIALS = {
    "previous_best_50": trial("none: the previous best recipe; 50 epochs", PREVIOUS_BEST,
                              epochs=50),
    "no_aug_no_dropout_10": trial("no augmentation, no dropout; 10 epochs", PREVIOUS_BEST,
                                  epochs=10, augment_shift=None, dropout=0.0),
    "zca_no_aug_no_dropout_10": trial("ZCA whitening (epsilon 0.1) instead of standardization, "
                                      "no augmentation, no dropout; 10 epochs", PREVIOUS_BEST,
                                      False, whitening=0.1, epochs=10, augment_shift=None,
                                      dropout=0.0),
    "no_dropout_shift4_25": trial("no dropout; 25 epochs", PREVIOUS_BEST, epochs=25, dropout=0.0),
    "no_dropout_flips_only_25": trial("no dropout, flips only (no shifts); 25 epochs",
                                      PREVIOUS_BEST, epochs=25, dropout=0.0, augment_shift=0),
    "no_dropout_shift1_25": trial("no dropout, shifts of up to 1 pixel; 25 epochs", PREVIOUS_BEST,
                                  epochs=25, dropout=0.0, augment_shift=1),
    "no_dropout_shift2_25": trial("no dropout, shifts of up to 2 pixels; 25 epochs", PREVIOUS_BEST,
                                  epochs=25, dropout=0.0, augment_shift=2),
    "no_dropout_shift2_smoothing_25": trial("no dropout, shifts of up to 2 pixels, label smoothing "
                                            "0.1; 25 epochs", PREVIOUS_BEST, epochs=25,
                                            dropout=0.0, augment_shift=2, label_smoothing=0.1),
    "no_dropout_shift2_35": trial("no dropout, shifts of up to 2 pixels; 35 epochs", PREVIOUS_BEST,
                                  epochs=35, dropout=0.0, augment_shift=2),
    "no_aug_no_dropout_25": trial("no augmentation, no dropout; 25 epochs", PREVIOUS_BEST,
                                  epochs=25, augment_shift=None, dropout=0.0),
    "chosen_35": trial("no dropout, shifts of up to 2 pixels, no L2, classical momentum; "
                       "35 epochs (the chosen recipe)", PREVIOUS_BEST, **CHOSEN),
    "chosen_50": trial("the chosen recipe; 50 epochs", PREVIOUS_BEST, **{**CHOSEN, "epochs": 50}),
    "chosen_batch256_lr01_50": trial("the chosen recipe with batches of 256 and learning rate 0.1; "
                                     "50 epochs", PREVIOUS_BEST,
                                     **{**CHOSEN, "epochs": 50, "batch_size": 256, "lr": 0.1}),
    "chosen_wide_35": trial("the chosen recipe with a first hidden layer of 2048 units; 35 epochs",
                            PREVIOUS_BEST, **CHOSEN, hidden=(2048, 1024, 512)),
    "chosen_wide_25": trial("the chosen recipe with a first hidden layer of 2048 units; 25 epochs",
                            PREVIOUS_BEST, **{**CHOSEN, "epochs": 25}, hidden=(2048, 1024, 512)),
    "chosen_35_again": trial("the chosen recipe; 35 epochs (again, to score it with mirror images)",
                             PREVIOUS_BEST, **CHOSEN),
    "chosen_batch64_35": trial("the chosen recipe with batches of 64; 35 epochs", PREVIOUS_BEST,
                               **CHOSEN, batch_size=64),
    # Third round: the chosen recipe again with other seeds, then varied.
    "chosen_seed1": trial("the chosen recipe, seed 1", CHOSEN_RECIPE, seed=1),
    "chosen_seed2": trial("the chosen recipe, seed 2", CHOSEN_RECIPE, seed=2),
    "chosen_smoothing": trial("the chosen recipe with label smoothing 0.1", CHOSEN_RECIPE,
                              label_smoothing=0.1),
    "chosen_l2": trial("the chosen recipe with L2 2.5e-4 (the best recipe on standardized inputs)",
                       CHOSEN_RECIPE, l2=2.5e-4),
    "chosen_l2_seed1": trial("the chosen recipe with L2 2.5e-4, seed 1", CHOSEN_RECIPE, l2=2.5e-4,
                             seed=1),
    "chosen_l2_5e-4": trial("the chosen recipe with L2 5e-4", CHOSEN_RECIPE, l2=5e-4),
    # Fourth round: ZCA whitening (chapter 1) against standardization, on the best recipe
    # shortened to 10 epochs (its cosine schedule with it), two seeds each.
    **{f"best_10{suffix}_seed{seed}": trial(
        f"the best recipe, 10 epochs, {inputs}, seed {seed}", STANDARDIZED_BEST, epochs=10,
        patience=None, test_shift=None, seed=seed, **changes)
       for suffix, inputs, changes in WHITENING_TRIALS for seed in (0, 1)},
    # Fifth round: the best recipe at its full length on ZCA-whitened inputs, with the
    # epsilon of the fourth round's higher mean, against its own two seeds (chosen_l2 and
    # chosen_l2_seed1 above).
    **{f"best_zca_seed{seed}": trial(
        f"the best recipe on ZCA-whitened inputs (epsilon {FULL_LENGTH_EPSILON:g}), seed {seed}",
        CHOSEN_RECIPE, l2=2.5e-4, whitening=FULL_LENGTH_EPSILON, seed=seed) for seed in (0, 1)},
}


def run_trial(name: str, data) -> dict:
    """Train trial ``name`` and score it on the validation split (never on the test set)."""
    description, recipe, standardize = TRIALS[name]
    prepared = recipe_inputs(recipe, prepare(data, n_val=5000, seed=0, standardize=standardize))
    started = time.perf_counter()
    model, history = NUMPY.fit(replace(recipe, name=name), prepared, progress=True)
    return {"description": description, "recipe": asdict(recipe), "epochs": recipe.epochs,
            "seed": recipe.seed,
            "final_val_accuracy": history.val_acc[-1],
            "flip_averaged_val_accuracy": evaluate(model, prepared.x_val, prepared.y_val,
                                                   test_shift=0)[1],
            "val_accuracy": history.val_acc, "train_accuracy": history.train_acc,
            "minutes": (time.perf_counter() - started) / 60}


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
        OUT.write_text(json.dumps({key: done[key] for key in TRIALS if key in done}, indent=1)
                       + "\n")
        print(f"{name}: validation accuracy {result['final_val_accuracy']:.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
