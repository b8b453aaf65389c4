"""Run profiles: the full data by default, short runs for a class, or a smoke run.

``CIFAR_MLP_PROFILE=class`` runs every notebook on the full data with every training
capped at a few epochs, so that a chapter fits in a lab session; its numbers are
real but short of the full runs', and its results files go to a folder of their own
(:meth:`Profile.results_dir`).
``CIFAR_MLP_PROFILE=smoke`` runs every notebook on the sample with tiny budgets (CI
does this). In the default ``full`` profile, when the full data can be neither found
nor downloaded, the notebooks fall back to the sample and say so loudly: in the
terminal and as a banner at the top of each page. ``CIFAR_MLP_REQUIRE_FULL=1``
turns that fallback into an error.

The package never locates itself: the repository's folders (``data/``, ``results/``,
``weights/``) come from the caller, or from :func:`project_root`, which finds the
repository from the working directory (the repository itself, ``notebooks/`` or
``book/``).

    python -m cifar_mlp.profiles   # from the repository: which data the notebooks will use
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .data import CIFAR10, CIFAR10Error, load_cifar10, load_sample

PROFILE_ENV = "CIFAR_MLP_PROFILE"
REQUIRE_FULL_ENV = "CIFAR_MLP_REQUIRE_FULL"


# Per training run in the class profile: each chapter in under 10 minutes from no saved
# weights on 2 cores (make class-timing measures it; with 3, chapter 3 took longer).
CLASS_EPOCHS = 2
SAMPLE_N_VAL = 500  # validation images held out of the sample's 2,000 training images
SAMPLE_MAX_EPOCHS = 2  # the sample checks that the code runs; longer runs on it say nothing more


@dataclass(frozen=True)
class Profile:
    """How much data and compute a run of the notebooks gets."""

    name: str
    n_val: int  # images held out of the full training set for validation
    max_epochs: int | None  # a cap on every training run's epochs (None: the recipe's own)

    def n_val_for(self, data: CIFAR10) -> int:
        """The validation split's size for ``data``: the profile's on the full set,
        SAMPLE_N_VAL on the sample (which is smaller than the full set's split)."""
        return self.n_val if data.source == "full" else SAMPLE_N_VAL

    def results_dir(self, root: str | os.PathLike, source: str) -> Path:
        """Where this profile's runs on ``source`` data ("full" or "sample") write their
        results files: ``results/`` for the full runs (committed: what the book
        publishes), ``results/<profile>-<source>/`` for any other (not committed). So a
        short or smoke run never overwrites the full numbers, and the summary pages of
        its build show the same numbers as its chapters."""
        if self.name == "full" and source == "full":
            return Path(root) / "results"
        return Path(root) / "results" / f"{self.name}-{source}"

    def run_settings(self, root: str | os.PathLike, data: CIFAR10) -> dict:
        """The profile's arguments of a training run on ``data``, with its folders under
        ``root`` (results: :meth:`results_dir`); on the sample no model trains for more
        than SAMPLE_MAX_EPOCHS epochs."""
        root = Path(root)
        full = data.source == "full"
        max_epochs = self.max_epochs if full else min(self.max_epochs or SAMPLE_MAX_EPOCHS,
                                                      SAMPLE_MAX_EPOCHS)
        return {"max_epochs": max_epochs,
                "results_dir": self.results_dir(root, data.source),
                "weights_dir": root / "weights" / ("" if self.name == "full" else self.name)}


PROFILES = {
    "full": Profile("full", n_val=5000, max_epochs=None),
    "class": Profile("class", n_val=5000, max_epochs=CLASS_EPOCHS),
    "smoke": Profile("smoke", n_val=500, max_epochs=2),
}


def active_profile() -> Profile:
    """The profile named by ``CIFAR_MLP_PROFILE`` (default ``full``)."""
    name = os.environ.get(PROFILE_ENV, "full").strip().lower() or "full"
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def fallback_allowed() -> bool:
    return os.environ.get(REQUIRE_FULL_ENV, "").strip().lower() not in ("1", "true", "yes")


FALLBACK_WARNING = (
    "THE FULL CIFAR-10 WAS NOT FOUND: this run uses the 2,000-image sample in "
    "data/sample, so its accuracies say little about CIFAR-10. Set CIFAR10_DIR or "
    "put cifar-10-binary.tar.gz in data/ (see README), or set "
    f"{REQUIRE_FULL_ENV}=1 to make this an error."
)


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The first folder, from ``start`` (default: the working directory) upwards, that
    holds ``data/sample``: the repository, from itself, ``notebooks/`` or ``book/``."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "data" / "sample").is_dir():
            return folder
    raise FileNotFoundError(
        f"no folder holding data/sample in {start} or above it: run from the "
        "repository (or its notebooks/), or pass the repository's folder as root")


def load_data(profile: Profile | None = None,
              root: str | os.PathLike | None = None) -> CIFAR10:
    """The data set the active profile asks for, with the loud fallback described above.

    ``root``: the repository, whose ``data/`` holds the sample and the full set's
    archive and cache (default: :func:`project_root`).
    """
    profile = profile or active_profile()
    data_dir = Path(root or project_root()) / "data"
    if profile.name == "smoke":
        return load_sample(data_dir / "sample")
    try:
        return load_cifar10(cache_dir=data_dir)
    except CIFAR10Error as error:
        if not fallback_allowed():
            raise
        print(f"\n{'!' * 78}\n{FALLBACK_WARNING}\nReason: {error}\n{'!' * 78}\n",
              file=sys.stderr)
        return load_sample(data_dir / "sample")


def banner(data: CIFAR10, profile: Profile | None = None):
    """An HTML banner for the top of a notebook that does not show the full runs: short
    runs of the class profile, a smoke run, or the sample instead of the full data."""
    from IPython.display import HTML

    profile = profile or active_profile()
    if profile.name == "class" and data.source == "full":
        title, text = "Short runs", (
            f"This page was executed in the class profile: every network trains for at most "
            f"{profile.max_epochs} epochs, so that the chapter runs in minutes. Its numbers "
            "are real but below those of the full runs, which the published book shows "
            "(<code>make book</code> without CIFAR_MLP_PROFILE reproduces them).")
    elif data.source == "full":
        return None
    elif profile.name == "smoke":
        title, text = "Smoke run", (
            "This page was executed in the smoke profile: on the 2,000-image sample "
            "with tiny budgets, to check that the code runs. Its numbers are not results.")
    else:
        title, text = "Not the full data set", FALLBACK_WARNING
    return HTML(f'<div class="admonition warning"><p class="admonition-title">{title}</p>'
                f"<p>{text}</p></div>")


def describe(profile: Profile, data: CIFAR10) -> str:
    """One line saying, before a long build, which profile and data it is going to use."""
    epochs = (f"at most {profile.max_epochs} epochs per model" if profile.max_epochs
              else "every recipe's full schedule")
    return (f"profile {profile.name} ({epochs}; {PROFILE_ENV}={'|'.join(PROFILES)} chooses): "
            f"{data.source} data from {data.origin} "
            f"({len(data.x_train):,} train, {len(data.x_test):,} test images)")


def main() -> int:
    """Say, before a long build, which data the notebooks are going to use."""
    profile = active_profile()
    print(describe(profile, load_data(profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
