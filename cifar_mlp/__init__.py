"""The book's helper package: the code the chapters import, each part written once.

A map, in the order a reader meets it (each module's docstring says which chapter shows it).

The reading path: the network and its training, in plain NumPy formulas
    data          CIFAR-10 into NumPy: find, verify, parse, cache (chapter 1)
    preprocess    uint8 images to float32 rows: colour or gray, standardized (chapter 1)
    whitening     PCA and ZCA whitening, fitted on the training split (chapter 1)
    layers        each layer a forward and backward pair with its cache (chapter 2;
                  batch norm and dropout, chapter 3)
    activations   sigmoid and tanh as layer pairs, to show vanishing gradients (chapter 2)
    model         the MLP built from the layers: loss, gradients, predict (chapter 2)
    gradcheck     numerical gradients, to check every backward pass (chapter 2)
    train         the loop: minibatches and one epoch (chapter 2); epochs, validation,
                  early stopping (chapter 3)
    generalization  under- and overfitting against capacity and against the amount of
                  data: two short sweeps on a subset of the training split (chapter 2)
    baselines     the most frequent class, k-nearest neighbours (chapter 3)
    diagnostics   what tells a healthy run from a broken one (chapter 3)
    optim         SGD with momentum (Nesterov) and Adam, per parameter array (chapter 3)
    quadratic     the optimizers on a quadratic of known condition number: the bound
                  2/L, each method's best rate, the rates theory predicts (chapter 3)
    tuning        SGD, momentum and Adam on the real network, each at its own tuned
                  learning rate, confirmed with new seeds (chapter 3)
    schedules     learning-rate schedules: cosine, reduce on plateau (chapter 3)
    augment       flips and shifts of the training images, test-time views (chapter 3)
    search        hyperparameters: log-uniform random search on a cheap proxy, coarse
                  to fine, a winner judged with a band that counts the trials (chapter 3)

The engine: what makes training fast and safe, calling the formulas above
    fast          the optimizers' updates in place, in one buffer (the same numbers)
    safety        best weights kept, a clear stop when training diverges
    input_checks  clear errors where bad input enters

The book's machinery: recipes, runs and the numbers the prose quotes
    experiments   named recipes, the ablation's rows (chapters 3 and 4)
    runs          train a recipe once, reload it, score it, write its results file
    book_runs     the registry: every model the chapters show, trained by `make book`
    provenance    what an output was produced from (code fingerprints, notebook stamps)
    profiles      full, class and smoke runs
    report        the tables, read from results/*.json
    plots         the figures, one module per chapter; display: the numbers the
                  Markdown asks for, claims, shown code
    findings      each chapter's bookkeeping: its numbers and the claims its sentences
                  make, one module per chapter, called from folded cells
    execution     running a chapter as JupyterLab shows it, its prose's numbers kept
    widgets       the interactive explorer of JupyterLab
    download, files   the official archive and its checksums

The Keras side (chapter 4)
    keras_runtime TensorFlow and Keras, imported quietly
    keras_data    the same minibatches as a tf.data pipeline; scoring a Keras model
    keras_twin    the same network in Keras, started from the same weights
    parity        the proof that the twin is a twin: same gradients, same updates
    keras_cnn     a small convolutional network; permutation: shuffled pixels

The teaching wing: cifar_mlp.teaching (exercises' checks, student and class editions,
grading in a sandbox); its own docstring is its map.

Where to add things: README.md, section "Architecture".
"""
