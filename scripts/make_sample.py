"""Write the small real sample committed in data/sample/ from the full CIFAR-10.

2,000 training images (200 per class) and 500 test images (50 per class), drawn
with a fixed seed, kept in their original order, and written in the official
binary layout (five training files of 400 records and one test file), so that the
same parser reads the sample and the full set.

    CIFAR10_DIR=../shared/cifar10/cifar-10-batches-bin python scripts/make_sample.py

It prints the md5 of each file it wrote: they go into ``SAMPLE`` in cifar_mlp/data.py.
"""

from pathlib import Path

import numpy as np

from cifar_mlp.data import (CLASS_NAMES, SAMPLE, TEST_FILE, TRAIN_FILES, load_cifar10, md5_of,
                            write_batch)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # the repository's data/
SAMPLE_DIR = DATA_DIR / "sample"

SEED = 2009  # the year of the CIFAR-10 report
TRAIN_PER_CLASS, TEST_PER_CLASS = 200, 50


def balanced_indices(labels, per_class, rng):
    """``per_class`` random indices of each class, returned in their original order."""
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
              for c in range(len(CLASS_NAMES))]
    return np.sort(np.concatenate(chosen))


def main():
    data = load_cifar10(cache_dir=DATA_DIR)
    rng = np.random.default_rng(SEED)
    train = balanced_indices(data.y_train, TRAIN_PER_CLASS, rng)
    test = balanced_indices(data.y_test, TEST_PER_CLASS, rng)
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    for name, part in zip(TRAIN_FILES, np.array_split(train, len(TRAIN_FILES))):
        write_batch(SAMPLE_DIR / name, data.x_train[part], data.y_train[part])
    write_batch(SAMPLE_DIR / TEST_FILE, data.x_test[test], data.y_test[test])
    (SAMPLE_DIR / "batches.meta.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    np.savetxt(SAMPLE_DIR / "source_indices_train.txt", train, fmt="%d")
    np.savetxt(SAMPLE_DIR / "source_indices_test.txt", test, fmt="%d")
    for name in SAMPLE.file_md5:
        print(f'"{name}": "{md5_of(SAMPLE_DIR / name)}",')


if __name__ == "__main__":
    main()
