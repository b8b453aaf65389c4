"""What several chapters' figures share: a grid and legends on every panel."""

from __future__ import annotations

import matplotlib.pyplot as plt


def gridded_with_legends(fig: plt.Figure, axes) -> plt.Figure:
    """``fig`` with a light grid and a small legend on each of ``axes``, laid out tight."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
