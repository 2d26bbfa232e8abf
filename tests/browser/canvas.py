"""What the chart really drew: its canvas pixels, read back in the page.

The canvas is transparent where nothing is drawn, so a pixel is compared with its
alpha: a translucent band keeps its own colour and carries its opacity in alpha (the
colour read back drifts by a few units there: the canvas stores premultiplied values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

RGBA = tuple[int, int, int, int]

# Counts the pixels near each colour, and where (x) they lie, in the chart's canvas.
_COUNT = """([colours, tolerance]) => {
  const canvas = document.querySelector("#chart canvas");
  const { width, height } = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  const found = colours.map(() => ({ count: 0, min_x: width, max_x: -1 }));
  for (let i = 0; i < data.length; i += 4) {
    colours.forEach((colour, k) => {
      if (colour.every((c, j) => Math.abs(data[i + j] - c) <= tolerance)) {
        const x = (i / 4) % width;
        found[k].count += 1;
        found[k].min_x = Math.min(found[k].min_x, x);
        found[k].max_x = Math.max(found[k].max_x, x);
      }
    });
  }
  return found;
}"""


@dataclass(frozen=True)
class Ink:
    """Pixels of one colour: how many, and the leftmost and rightmost column."""

    count: int
    min_x: int
    max_x: int


def opaque(colour: str) -> RGBA:
    """'#c4161c' -> (196, 22, 28, 255)."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255


def layered(rgb: list[int], alpha: float, layers: int = 1) -> RGBA:
    """``rgb`` painted ``layers`` times at ``alpha`` on the transparent canvas."""
    return rgb[0], rgb[1], rgb[2], round(255 * (1 - (1 - alpha) ** layers))


def ink(page: Page, colours: dict[str, RGBA], tolerance: int = 4) -> dict[str, Ink]:
    """Where each named colour appears in the chart's canvas."""
    found = page.evaluate(_COUNT, [list(colours.values()), tolerance])
    return {name: Ink(**f) for name, f in zip(colours, found, strict=True)}


def chart_palette(page: Page) -> tuple[dict[str, Any], float]:
    """The page's own chart colours and band opacity, from its chart module."""
    colours, alpha = page.evaluate(
        "async () => { const m = await import('./static/js/chart.js'); return [m.COLORS, m.BAND_ALPHA]; }"
    )
    return colours, alpha
