"""Every exercise's check, for the chapters' notebooks:

    from cifar_mlp.teaching import checks as check
    check.affine_layer(affine_forward, affine_backward)

Each chapter's checks are in ``checks_ch1`` ... ``checks_ch4``; :data:`EXERCISES` lists
them all, with their chapter, points, minutes and the functions that answer them.
"""

from .base import EXERCISES, CheckFailed
from .checks_ch1 import channel_means, grayscale, standardization, stratified_split
from .checks_ch2 import affine_layer, relu_layer, softmax_loss, training_epoch
from .checks_ch3 import (adam_update, batchnorm_layer, confusion_matrix, cosine_schedule,
                         dropout_layer, early_stopping, linear_softmax, momentum_update,
                         most_confused)
from .checks_ch4 import keras_batchnorm, keras_he_init, keras_l2, keras_twin, permute_first_layer

__all__ = ["EXERCISES", "CheckFailed", "channel_means", "grayscale",
           "standardization", "stratified_split", "relu_layer", "affine_layer", "softmax_loss",
           "training_epoch", "momentum_update", "adam_update", "batchnorm_layer", "dropout_layer",
           "cosine_schedule", "confusion_matrix", "most_confused", "early_stopping", "linear_softmax", "keras_l2", "keras_he_init", "keras_batchnorm",
           "keras_twin", "permute_first_layer"]
