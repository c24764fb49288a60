"""Folders that a study reads and writes, relative to the project folder.

Raw responses are not modified once written. Each later stage reads the stage before
it and writes its own folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StudyPaths:
    """Folders of one data set's study inside ``project_dir``."""

    project_dir: Path
    dataset: str

    @classmethod
    def create(cls, project_dir: str | Path, dataset: str) -> StudyPaths:
        return cls(Path(project_dir).resolve(), dataset)

    @property
    def sample_dir(self) -> Path:
        """Generated sample responses, served by the replay transport."""
        return self.project_dir / "data" / "sample"

    @property
    def raw_dir(self) -> Path:
        """Raw API responses, one file per response."""
        return self.project_dir / "data" / "raw" / self.dataset

    @property
    def processed_dir(self) -> Path:
        """Tidy Parquet tables."""
        return self.project_dir / "data" / "processed" / self.dataset

    @property
    def figures_dir(self) -> Path:
        """Report figures, PNG and SVG."""
        return self.project_dir / "figures"

    def clear_sample(self) -> None:
        """Delete the generated sample and its raw responses before a new generation.

        The raw store returns a stored response for a request it has seen, so responses left from a
        sample with other parameters would mix two worlds. Only the ``sample`` data set
        may be cleared, because its raw responses can always be generated again.
        """
        if self.dataset != "sample":
            raise ValueError(
                f"clear_sample deletes raw responses and applies to the sample only, "
                f"not to dataset={self.dataset!r}"
            )
        for folder in (self.sample_dir, self.raw_dir):
            shutil.rmtree(folder, ignore_errors=True)
