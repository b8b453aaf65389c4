"""Chapter 1, *The data*: the numbers its sentences show and the claims they make,
about the spectrum and correlations of the pixels, the choice of the whitening's epsilon.

Each function is one step of the chapter's bookkeeping, called by a folded cell right
where the chapter needs it: it reads what the cells above computed, puts the
numbers into ``numbers`` (the Markdown cells show them) and checks each claim a
sentence makes (:func:`cifar_mlp.display.claim`). The chapter runs them every time
it runs, under nbval too.
"""

import json

import numpy as np

from cifar_mlp import report
from cifar_mlp.display import claim, listing
from cifar_mlp.experiments import RECIPES
from cifar_mlp.profiles import project_root


def spectrum_findings(numbers, data, fitted, shares):
    """The spectrum of the pixels' covariance: how many components hold most of the variance."""
    eigenvalues = fitted.eigenvalues
    smallest = eigenvalues[fitted.rank - 1]  # the smallest variance that is not rounding noise
    numbers.update(share90=90, share99=99, width=f"{fitted.width:,}", k90=f"{shares[0.9]:,}", k99=f"{shares[0.99]:,}",
                   k90_share=shares[0.9] / fitted.width * 100, k99_share=shares[0.99] / fitted.width * 100,
                   first_share=eigenvalues[0] / eigenvalues.sum() * 100,
                   largest=eigenvalues[0], smallest=smallest,
                   decades=np.log10(eigenvalues[0] / smallest))
    first = fitted.rotation(1)[:, 0]
    numbers["same_sign"] = max(np.mean(first > 0), np.mean(first < 0)) * 100
    if data.source == "full":  # a sample of 1,500 images estimates the component less well
        claim(numbers["same_sign"] == 100,
              "the first component moves every pixel of every channel the same way: brightness")
    claim(shares[0.9] < fitted.width / 20, "fewer than one component in twenty holds 90% of the variance")
    claim(numbers["decades"] > 4, "the variances span more than four powers of ten")


def correlation_findings(numbers, correlations, pixel):
    """How one pixel's red value correlates with its neighbours and its other colours."""
    row, column = pixel
    numbers.update(next_pixel=correlations[row, column + 1, 0],
                   four_away=correlations[row, column + 4, 0],
                   eight_away=correlations[row, column + 8, 0],
                   same_green=correlations[row, column, 1], same_blue=correlations[row, column, 2])
    claim(correlations[row, column + 1, 0] > correlations[row, column + 4, 0]
          > correlations[row, column + 8, 0] > 0,
          "the correlation falls with the distance, and stays positive eight pixels away")
    claim(min(numbers["same_green"], numbers["same_blue"]) > numbers["four_away"],
          "the same pixel's green and blue values correlate more than a red value four pixels away")


def epsilon_findings(numbers, seeds, accuracies):
    """The linear classifier at each epsilon against standardized inputs; returns the epsilon
    chosen on validation."""
    points = {label: np.array(values) * 100 for label, values in accuracies.items()}
    compared = report.against_reference(points, "standardized", "helps", "hurts")
    noise, df, changes, verdicts = (compared[key] for key in ("noise", "df", "changes", "verdicts"))
    reference = points["standardized"].mean()
    best_label = max(points, key=lambda label: points[label].mean())
    numbers.update(linear_epochs=RECIPES["linear"].epochs, n_seeds=len(seeds), noise=noise, df=df,
                   band_level=report.BAND_LEVEL * 100,
                   standardized_acc=reference, best_label=best_label, best_acc=points[best_label].mean())
    numbers["results"] = listing([f"{points[label].mean():.1f}% with $\\epsilon$ = {label.split('= ')[1]} "
                                  f"({changes[label]:+.1f} points: {verdicts[label]})" for label in changes])
    helping = [label for label, verdict in verdicts.items() if verdict == "helps"]
    if helping:
        chosen = max(helping, key=lambda label: points[label].mean())
        numbers["choice"] = (f"The choice is therefore $\\epsilon$ = {chosen.split('= ')[1]}, the best "
                             f"on the validation split and better than standardization beyond the noise.")
    else:
        chosen = "standardized"
        numbers["choice"] = ("No $\\epsilon$ beats standardization beyond the noise, so the choice is to "
                             "keep the standardized inputs: a preprocessing that does not help is a "
                             "finding too.")
    claim(all((verdicts[label] == "helps") == (changes[label] > noise) for label in changes),
          "every verdict follows from its change and the noise")
    claim(chosen == "standardized" or changes[chosen] > noise, "the chosen input beats standardization beyond the noise")
    return chosen


def deep_network_findings(numbers, chosen):
    """Whitening for the deep network: the short trials and the full ones from
    results/recipe_trials.json."""
    trials = json.loads((project_root() / "results" / "recipe_trials.json").read_text())

    def input_label(trial):
        eps = trial["recipe"].get("whitening")
        return "standardized" if eps is None else f"whitened, eps = {eps:g}"

    def by_input(names):
        """Final validation accuracy of the trials ``names``, in points, grouped by their
        inputs."""
        points = {}
        for name in names:
            points.setdefault(input_label(trials[name]), []).append(trials[name]["final_val_accuracy"] * 100)
        return points

    short_points = by_input([name for name in trials if name.startswith("best_10")])
    full_points = by_input(["chosen_l2", "chosen_l2_seed1", "best_zca_seed0", "best_zca_seed1"])
    for title, points in (("short runs", short_points), ("full length", full_points)):
        for label, values in points.items():
            print(f"{title:12} {label:24} validation accuracy {np.mean(values):.1f}%  "
                  f"(seeds: {', '.join(f'{v:.1f}%' for v in values)})")
    short = report.against_reference(short_points, "standardized", "helps", "hurts")
    full = report.against_reference(full_points, "standardized", "helps", "hurts")
    [(full_label, full_change)] = full["changes"].items()
    numbers.update(short_epochs=trials["best_10_seed0"]["epochs"], short_noise=short["noise"], short_df=short["df"],
                   short_standardized=np.mean(short_points["standardized"]), short_seeds=len(short_points["standardized"]),
                   full_epochs=trials["best_zca_seed0"]["epochs"], full_eps=full_label.split("= ")[1],
                   full_standardized=np.mean(full_points["standardized"]), full_whitened=np.mean(full_points[full_label]),
                   full_change=full_change, full_noise=full["noise"], full_df=full["df"],
                   full_verdict=full["verdicts"][full_label], full_seeds=len(full_points[full_label]))
    numbers["short_results"] = listing([f"{np.mean(short_points[label]):.1f}% with $\\epsilon$ = {label.split('= ')[1]} "
                                        f"({change:+.1f} points: {short['verdicts'][label]})"
                                        for label, change in short["changes"].items()])
    uses_whitening = [name for name, recipe in RECIPES.items() if recipe.whitening is not None]
    numbers["recipes_inputs"] = (
        "Every recipe of the next chapters trains on standardized inputs: they were chosen before these runs."
        if not uses_whitening else
        f"{'So c' if full['verdicts'][full_label] == 'helps' else 'C'}hapter 3's {listing(uses_whitening)} recipe trains on whitened inputs, with $\\epsilon$ = "
        f"{RECIPES[uses_whitening[0]].whitening:g}; the others on standardized inputs."
        if len(uses_whitening) == 1 else f"The recipes {listing(uses_whitening)} train on whitened inputs.")
    tried = sorted(float(label.split("= ")[1]) for label in short_points if label != "standardized")
    if uses_whitening and RECIPES[uses_whitening[0]].whitening == max(tried):
        numbers["recipes_inputs"] += (
            f" That $\\epsilon$ is the largest of the {len(tried)} tried on the deep network "
            f"({listing([f'{eps:g}' for eps in tried])}): a larger one was not tried, so the best "
            "setting may lie beyond it.")
    short_helping = [label for label, verdict in short["verdicts"].items() if verdict == "helps"]
    numbers["sticks"] = (
        "The linear classifier was the wrong measuring stick here: what does not help a linear "
        "classifier can help a network with hidden layers."
        if short_helping and chosen == "standardized" else
        "The deep network agrees with the linear classifier." if not short_helping and chosen == "standardized"
        else "The two measuring sticks disagree.")
