"""When a prediction may carry a pre-ticked answer (``result``) and when only its ``score``.

A pre-ticked choice invites the annotator to accept it, so it is sent only when the model is likely right:
the project's *estimated accuracy* — prequential: of the latest ``WINDOW`` annotations that arrived on a task
the serving model had predicted, the share it got right — is above the project's ``preannotate_threshold``
(default ``Settings.preannotate_threshold`` = 0.8), measured on at least ``MIN_EVIDENCE`` such annotations,
**and** the task's own top-class confidence is above the same threshold. An untrained model, a model at chance,
or one without enough evidence yet pre-ticks nothing; its predictions carry the score alone, which is all the
ranking (Label Studio's Uncertainty sampling) needs. ``preannotate_threshold: 0`` turns the gate off (every
prediction pre-ticked, as before this gate existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from labelsieve.storage.models import Annotation

WINDOW = 50
MIN_EVIDENCE = 20
SETTING = "preannotate_threshold"


@dataclass(frozen=True)
class PreannotationGate:
    threshold: float
    accuracy: float | None  # estimated (prequential) accuracy; None without evidence
    evidence: int  # annotations that scored the model

    @property
    def open(self) -> bool:
        if self.threshold <= 0.0:  # gate off
            return True
        return self.evidence >= MIN_EVIDENCE and self.accuracy is not None and self.accuracy > self.threshold

    def allows(self, confidence: float | None) -> bool:
        """True when a prediction of this confidence may carry its answer pre-ticked."""
        if self.threshold <= 0.0:
            return True
        return self.open and confidence is not None and confidence > self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "estimated_accuracy": self.accuracy, "evidence": self.evidence,
                "min_evidence": MIN_EVIDENCE, "pre_ticks": self.open}


def threshold_of(project_settings: dict[str, Any] | None, default: float) -> float:
    value = (project_settings or {}).get(SETTING, default)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def gate_for(*, session: Session, project_id: int, threshold: float) -> PreannotationGate:
    """The project's gate from its latest ``WINDOW`` scored annotations (one indexed query)."""
    rows = session.exec(
        select(Annotation.labels, Annotation.predicted_labels)
        .where(col(Annotation.project_id) == project_id, col(Annotation.predicted_version).is_not(None),
               col(Annotation.was_cancelled).is_(False))
        .order_by(col(Annotation.updated_at).desc()).limit(WINDOW)
    ).all()
    scored = [(labels, predicted) for labels, predicted in rows if labels and predicted]
    if not scored:
        return PreannotationGate(threshold=threshold, accuracy=None, evidence=0)
    # the whole answer must be right: one label (single-label), or the exact set (multi-label)
    hits = sum(1 for labels, predicted in scored if sorted(labels) == sorted(predicted))
    return PreannotationGate(threshold=threshold, accuracy=hits / len(scored), evidence=len(scored))
