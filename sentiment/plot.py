"""The word-pair attention matrix as a heatmap PNG (matplotlib, no display needed)."""


def attention_heatmap(prediction, path):
    """Write prediction['attention'] with the tokens on both axes; rows are the pair's first word."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens, attention = prediction["tokens"], prediction["attention"]
    size = max(4.0, 0.35 * len(tokens) + 2)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(attention, cmap="viridis")
    ax.set_xticks(range(len(tokens)), tokens, rotation=90)
    ax.set_yticks(range(len(tokens)), tokens)
    ax.set_xlabel("second word (j)")
    ax.set_ylabel("first word (i)")
    probability = prediction["probabilities"][prediction["label"]]
    ax.set_title(f"{prediction['label']} ({probability:.2f}): word-pair attention")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
