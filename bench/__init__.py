"""How fast is the NumPy MLP, measured against the machine and against Keras (``make bench``).

One run, on this machine, by :mod:`bench.run`. (a) to (e) use the 3072-1024-512-10
network of :mod:`bench.network` (ReLU, softmax cross-entropy, SGD with momentum 0.9; no
batch norm, dropout or L2), batch 128, the 45,000-image training split of
``prepare(load_cifar10(...), "rgb")``. Every trainer draws its batches from
``cifar_mlp.train.minibatches`` with the recipe's seed, so all see the same batches in
the same order; the 5,000 validation images are scored after every epoch where training
does so. One module a measurement:

(a) :mod:`bench.peak`: the float32 matrix-product peak of NumPy at the network's own
    product shapes (forward, weight gradients, input gradients; best of several repeats
    each);
(b) :mod:`bench.train_step`: the NumPy train step (``model.loss`` then
    ``optimizer.step``, best of 80): its GFLOP/s over the matrix products (the first
    layer has no dx) and its fraction of that peak; and the best time of each piece of
    work outside the products;
(c) :mod:`bench.numpy_epochs`: NumPy seconds per epoch: ``cifar_mlp.train.train`` (the
    trainer the book uses) and a raw loop of steps; medians of 3 epochs;
(d) :mod:`bench.keras_epochs`: Keras seconds per epoch on the same network, batch, data
    and validation (``cifar_mlp.runs.run`` with the Keras twin): median of 3 epochs after
    a first, excluded, one (graph tracing);
(e) :mod:`bench.seed_style_epochs`: a seed-style trainer for reference, the same network
    written the usual way (:mod:`bench.seed_style_mlp`), with float64 weights from
    ``np.random.randn``; 1-2 epochs;
(f) :mod:`bench.epoch_split`: where an epoch of the book's best recipe
    (``RECIPES["best"]``: 3072-1024-1024-512-10, BatchNorm, flips and 2-pixel shifts)
    goes: one epoch of ``cifar_mlp.train.train`` (the median of up to 3), its wall time
    split into matrix products, batch normalization, the optimizer update, augmentation,
    validation and the rest, by :mod:`bench.epoch_profile` (a ``sys.setprofile`` hook that
    times the calls of the parts' functions; nothing in ``cifar_mlp`` is replaced); and the
    epoch against its matrix-product bound, the time its products would take at the peak
    of its own product shapes.

Around them: :mod:`bench.timers` (the shared timers), :mod:`bench.machine` (the machine
and the contention: the share of the CPUs that other processes used while the bench ran,
from /proc/stat, since timings taken on shared cores are noisy), :mod:`bench.budget`
(fewer epochs run in (c) to (e) when the machine is too slow or busy for its time
budget) and :mod:`bench.summary` (the ratios and the printout). :mod:`bench.run` writes
``results/bench.json`` with every number, the machine, the BLAS and the contention.

    .venv/bin/python -m bench.run      # about 4 minutes on an idle 2-core machine
"""
