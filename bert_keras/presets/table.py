"""The preset registry as the plain-text table that `presets list` prints."""

from bert_keras.presets.registry import list_presets


def format_parameters(count: int) -> str:
    """A short human form of a parameter count: 4.4M, 110M, 1.2B."""
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B"
    if count >= 100_000_000:
        return f"{count / 1e6:.0f}M"
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    return f"{count / 1e3:.0f}K"


def preset_table() -> str:
    """Every preset as a plain-text table, one row each."""
    header = (
        "name", "layers", "hidden", "heads", "intermediate", "params", "casing", "language",
        "source",
    )
    rows = [header]
    for info in list_presets():
        a = info.architecture
        rows.append(
            (
                info.name,
                str(a["num_layers"]),
                str(a["hidden_dim"]),
                str(a["num_heads"]),
                str(a["intermediate_dim"]),
                format_parameters(info.num_parameters),
                "uncased" if info.lowercase else "cased",
                info.language,
                info.source_description(),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    # Names and words read best left-aligned, numbers right-aligned.
    numeric = {1, 2, 3, 4, 5}

    def render(row: tuple[str, ...]) -> str:
        cells = (
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        )
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(header), rule, *(render(row) for row in rows[1:])])
