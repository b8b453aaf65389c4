"""Run profiles: the full data by default, or a smoke run on the committed sample.

``CIFAR_MLP_PROFILE=smoke`` runs every notebook on the sample with tiny budgets (CI
does this). In the default ``full`` profile, when the full data can be neither found
nor downloaded, the notebooks fall back to the sample and say so loudly: in the
terminal and as a banner at the top of each page. ``CIFAR_MLP_REQUIRE_FULL=1``
turns that fallback into an error.

    python -m cifar_mlp.profiles   # prints which data the notebooks will use
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from .data import CIFAR10, CIFAR10Error, load_cifar10, load_sample

PROFILE_ENV = "CIFAR_MLP_PROFILE"
REQUIRE_FULL_ENV = "CIFAR_MLP_REQUIRE_FULL"


@dataclass(frozen=True)
class Profile:
    """How much data and compute a run of the notebooks gets."""

    name: str
    n_val: int  # images held out of the training set for validation
    max_epochs: int | None  # a cap on every training run's epochs (None: the recipe's own)
    write_results: bool  # whether runs write results/<name>.json (only full-data runs do)


PROFILES = {
    "full": Profile("full", n_val=5000, max_epochs=None, write_results=True),
    "smoke": Profile("smoke", n_val=500, max_epochs=2, write_results=False),
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


def load_data(profile: Profile | None = None) -> CIFAR10:
    """The data set the active profile asks for, with the loud fallback described above."""
    profile = profile or active_profile()
    if profile.name == "smoke":
        return load_sample()
    try:
        return load_cifar10()
    except CIFAR10Error as error:
        if not fallback_allowed():
            raise
        print(f"\n{'!' * 78}\n{FALLBACK_WARNING}\nReason: {error}\n{'!' * 78}\n",
              file=sys.stderr)
        return load_sample()


def banner(data: CIFAR10, profile: Profile | None = None):
    """An HTML banner for the top of a notebook when it does not run on the full data."""
    from IPython.display import HTML

    profile = profile or active_profile()
    if data.source == "full":
        return None
    if profile.name == "smoke":
        title, text = "Smoke run", (
            "This page was executed in the smoke profile: on the 2,000-image sample "
            "with tiny budgets, to check that the code runs. Its numbers are not results.")
    else:
        title, text = "Not the full data set", FALLBACK_WARNING
    return HTML(f'<div class="admonition warning"><p class="admonition-title">{title}</p>'
                f"<p>{text}</p></div>")


def main() -> int:
    """Say, before a long build, which data the notebooks are going to use."""
    profile = active_profile()
    data = load_data(profile)
    print(f"profile {profile.name}: {data.source} data from {data.origin} "
          f"({len(data.x_train):,} train, {len(data.x_test):,} test images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
