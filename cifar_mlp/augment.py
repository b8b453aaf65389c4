"""Data augmentation: random flips and shifts of the training images (chapter 3).

Each epoch sees every training image in a new variation, so the network cannot
memorize pixels as easily. :func:`cifar_mlp.train.minibatches` applies it, with the
largest shift a recipe asks for (``Recipe.augment_shift``).
"""

import numpy as np


def augment(x_batch: np.ndarray, rng: np.random.Generator, shift: int, *,
            flip: bool = True, image_shape=(32, 32, 3)) -> np.ndarray:
    """A randomly flipped and shifted copy of a batch of flattened images.

    Each row is seen as an image of ``image_shape`` (height, width, channels),
    channels last; the number of channels is inferred from the row width, so
    grayscale rows (1,024 wide) work as well as RGB rows (3,072 wide).

    * flip: each image is mirrored left-right with probability 1/2;
    * crop: each image is padded with ``shift`` zeros on every side and a
      window of the original size is cut at a random position, which shifts the
      content by up to ``shift`` pixels in each direction.

    Both are done at once, without a loop over images: for every output pixel
    we compute which pixel of the padded image it comes from (reversing the
    column order of the flipped images) and gather them all with one ``np.take``.
    Returns new float32 rows; ``x_batch`` is not changed.
    """
    x_batch = np.asarray(x_batch, dtype=np.float32)
    n, width = x_batch.shape if x_batch.ndim == 2 else (0, 0)
    height, row_len = image_shape[0], image_shape[1]
    if x_batch.ndim != 2 or width == 0 or width % (height * row_len):
        raise ValueError(f"augment: expected rows of {height}x{row_len}xC pixels "
                         f"(C channels, channels last), got an array of shape {x_batch.shape}")
    if shift < 0:
        raise ValueError(f"augment: shift must be >= 0, got {shift}")
    channels, pad = width // (height * row_len), int(shift)

    images = x_batch.reshape(n, height, row_len, channels)
    padded = np.zeros((n, height + 2 * pad, row_len + 2 * pad, channels), np.float32)
    padded[:, pad:pad + height, pad:pad + row_len] = images

    rows = np.broadcast_to(np.arange(height), (n, height))
    cols = np.broadcast_to(np.arange(row_len), (n, row_len))
    if flip:
        mirrored = rng.random(n) < 0.5
        cols = np.where(mirrored[:, None], cols[:, ::-1], cols)
    if pad:
        rows = rows + rng.integers(0, 2 * pad + 1, n)[:, None]  # top edge of the window
        cols = cols + rng.integers(0, 2 * pad + 1, n)[:, None]  # left edge of the window

    # Index of each output pixel in the padded batch seen as a list of pixels.
    padded_h, padded_w = padded.shape[1:3]
    image_index = np.arange(n)[:, None, None]
    pixel = (image_index * padded_h + rows[:, :, None]) * padded_w + cols[:, None, :]
    out = np.take(padded.reshape(-1, channels), pixel.ravel(), axis=0)
    return out.reshape(n, width)


def n_views(shift: int | None) -> int:
    """How many views :func:`views` yields per image (1 for None: the image as it is)."""
    return 1 if shift is None else 2 * (2 * shift + 1) ** 2


def views(x_batch: np.ndarray, shift: int, image_shape=(32, 32, 3)):
    """Every variation of a batch that :func:`augment` can draw, one after the other:
    each image mirrored or not, and shifted by each of the ``(2 * shift + 1) ** 2``
    windows of the padded image. Yields ``2 * (2 * shift + 1) ** 2`` float32 arrays
    shaped like ``x_batch``, the batch as it is among them (test-time augmentation,
    chapter 3)."""
    x_batch = np.asarray(x_batch, dtype=np.float32)
    n, (height, row_len), pad = len(x_batch), image_shape[:2], int(shift)
    images = x_batch.reshape(n, height, row_len, -1)
    padded = np.zeros((n, height + 2 * pad, row_len + 2 * pad, images.shape[3]), np.float32)
    padded[:, pad:pad + height, pad:pad + row_len] = images
    for source in (padded, padded[:, :, ::-1]):  # as it is, then mirrored
        for top in range(2 * pad + 1):
            for left in range(2 * pad + 1):
                yield source[:, top:top + height, left:left + row_len].reshape(n, -1)
