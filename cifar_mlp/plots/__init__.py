"""The book's figures, one module per chapter that shows them: each function draws one
figure and returns it, with a title, labelled axes and, where classes appear, their names.

    from cifar_mlp import plots
    fig = plots.training_curves({"best recipe": history})
"""

# Every figure, re-exported: the chapters call plots.<figure>.
from .ch1_data import (CHANNEL_COLORS, channel_histograms, class_balance, displayable,
                       eigenvalue_spectrum, image_grid, pixel_correlations, rgb_and_gray,
                       value_histograms, whitened_images)
from .ch2_math import (activation_scales, capacity_curves, data_size_curves, gradient_norms,
                       loss_curve, loss_curves, relative_errors, sweep_curves)
from .ch3_training import (ablation, accuracy_ladder, confusion_matrix, convergence,
                           first_layer_weights, lr_range, optimizer_rates, per_class_accuracy,
                           predictions_grid, rate_sweep, search_trials, top3_bars, top3_gallery,
                           training_curves, training_diagnostics, views_curve)
from .ch4_keras import (PART_HATCHES, epoch_split, framework_comparison, parity_curves,
                        rgb_and_shuffled, step_time)
