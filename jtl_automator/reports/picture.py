"""A report's chart as a PNG (matplotlib, no display) for the Prefect UI.

The UI cannot show the workbook's native charts; the same :class:`Chart` drives both, so the picture and
the workbook agree.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display: the picture goes into a file or an artifact

import matplotlib.pyplot as plt

from jtl_automator.reports.model import Chart, Table, plain


def chart_png(chart: Chart, table: Table, *, dpi: int = 110) -> bytes:
    """The chart over ``table``'s rows as PNG bytes (an empty table draws an empty frame with its title)."""
    labels = {c.key: c.label for c in table.columns}
    records = table.frame if not table.missing else table.frame.iloc[0:0]
    categories = [str(plain(v)) for v in records[chart.categories].tolist()]
    figure, axis = plt.subplots(
        figsize=(8, 4.2 if chart.kind != "bar" else max(3.0, 0.28 * len(categories) + 1))
    )
    try:
        if chart.kind == "line":
            second = axis.twinx() if chart.secondary else None
            for n, key in enumerate(chart.series):
                target = second if second is not None and key in chart.secondary else axis
                values = [plain(v) for v in records[key].tolist()]
                target.plot(categories, values, marker="o", color=f"C{n}", label=labels.get(key, key))
            axis.set_ylabel(chart.y_title or "")
            if second is not None:
                second.set_ylabel(chart.y2_title or "")
                handles = axis.get_legend_handles_labels()[0] + second.get_legend_handles_labels()[0]
                axis.legend(handles, [str(h.get_label()) for h in handles], loc="upper left")
            axis.tick_params(axis="x", labelrotation=45)
        elif chart.kind == "bar":
            key = chart.series[0]
            axis.barh(categories[::-1], [plain(v) or 0 for v in records[key].tolist()][::-1], color="C0")
            axis.set_xlabel(chart.y_title or labels.get(key, key))
        else:
            bottom = [0.0] * len(categories)
            for n, key in enumerate(chart.series):
                values = [float(plain(v) or 0) for v in records[key].tolist()]
                axis.bar(categories, values, bottom=bottom, color=f"C{n}", label=labels.get(key, key))
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
            axis.set_ylabel(chart.y_title or "")
            axis.legend(loc="upper right")
            axis.tick_params(axis="x", labelrotation=30)
        axis.set_title(chart.title)
        axis.grid(axis="y" if chart.kind != "bar" else "x", alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()
    finally:
        plt.close(figure)


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI (an image artifact that needs no file server)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
