"""Heatmap PNGs of a prediction's word-pair matrices (matplotlib, no display needed)."""


def heatmaps(sentences, path):
    """One heatmap per sentence answer: PATH itself for one sentence, else PATH's stem numbered from 1."""
    from pathlib import Path

    path = Path(path)
    paths = [path] if len(sentences) == 1 else [path.with_name(f"{path.stem}-{i}{path.suffix}")
                                                for i in range(1, len(sentences) + 1)]
    for sentence, target in zip(sentences, paths):
        heatmap(sentence, target)
    return paths


def heatmap(prediction, path):
    """Write the attention matrix, and beside it the contribution matrix when the prediction has one.

    Rows are the pair's first word. Contributions use a diverging scale centred on zero:
    green pushes toward the label, red against it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tokens = prediction["tokens"]
    panels = [("attention", "word-pair attention", "viridis", None)]
    if "contributions" in prediction:
        limit = float(np.abs(prediction["contributions"]).max()) or 1.0
        panels.append(("contributions", f"log-odds {prediction['label']} vs {prediction['runner_up']}", "RdYlGn",
                       (-limit, limit)))
    size = max(4.0, 0.35 * len(tokens) + 2)
    fig, axes = plt.subplots(1, len(panels), figsize=((size + 1.5) * len(panels), size), squeeze=False)
    probability = prediction["probabilities"][prediction["label"]]
    for ax, (key, title, cmap, limits) in zip(axes[0], panels):
        image = ax.imshow(prediction[key], cmap=cmap, **({"vmin": limits[0], "vmax": limits[1]} if limits else {}))
        ax.set_xticks(range(len(tokens)), tokens, rotation=90)
        ax.set_yticks(range(len(tokens)), tokens)
        ax.set_xlabel("second word (j)")
        ax.set_ylabel("first word (i)")
        ax.set_title(f"{prediction['label']} ({probability:.2f}): {title}")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
