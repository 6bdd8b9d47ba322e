"""Score-weighted label voting over a track's life.

A detector flickers between labels ("cup" / "mug") and sometimes mislabels one frame; the label a
track shows is the one with the largest summed detection score so far, not the latest one.
"""

from __future__ import annotations


class LabelVotes:
    """Summed detection scores per label, bounded to the ``max_labels`` strongest labels."""

    __slots__ = ("_votes", "_class_ids", "_max_labels", "_winner")

    def __init__(self, max_labels: int = 8) -> None:
        if max_labels < 1:
            raise ValueError(f"max_labels must be at least 1, got {max_labels}")
        self._votes: dict[str, float] = {}
        self._class_ids: dict[str, int] = {}
        self._max_labels = max_labels
        self._winner: str | None = None  # the label, kept until the next vote (read every frame)

    def add(self, label: str, score: float, class_id: int = -1) -> None:
        """Count one detection; empty labels (class-agnostic detectors) carry no vote."""
        if not label or score <= 0.0:
            return
        self._winner = None
        self._votes[label] = self._votes.get(label, 0.0) + float(score)
        if class_id >= 0:
            self._class_ids[label] = int(class_id)
        if len(self._votes) > self._max_labels:
            weakest = min(self._votes, key=self._votes.__getitem__)
            del self._votes[weakest]
            self._class_ids.pop(weakest, None)

    def merge(self, other: LabelVotes) -> None:
        """Add another track's votes (a re-identified track keeps the history of both)."""
        for label, score in other._votes.items():
            self.add(label, score, other._class_ids.get(label, -1))

    @property
    def label(self) -> str:
        """The winning label; ties go to the alphabetically first, so the result is deterministic."""
        if self._winner is None:
            self._winner = min(self._votes, key=lambda name: (-self._votes[name], name)) if self._votes else ""
        return self._winner

    @property
    def class_id(self) -> int:
        return self._class_ids.get(self.label, -1)

    @property
    def confidence(self) -> float:
        """Share of all votes that went to the winning label (1.0 when there are none)."""
        total = sum(self._votes.values())
        return self._votes[self.label] / total if total > 0 else 1.0

    def as_dict(self) -> dict[str, float]:
        return dict(self._votes)
