"""igtrends: study trends on Instagram and recommend posts with a two-tower network."""

from __future__ import annotations

__version__ = "0.1.0"
