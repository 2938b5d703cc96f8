"""When a prediction may carry a pre-ticked answer (``result``) and when only its ``score``.

A pre-ticked choice invites the annotator to accept it, so it is sent only when the model is likely right:
the project's *estimated accuracy* is above the project's ``preannotate_threshold`` (default
``Settings.preannotate_threshold`` = 0.8), measured on at least ``MIN_EVIDENCE`` labels, **and** the task's own
top-class confidence is above the same threshold. The estimate is the newest 5-fold cross-validation of the
learner recipe on the labelled set (``ModelVersion.metrics["cv_estimate"]``, computed in the background after a
retrain), so a project connected with many labels does not wait for new ones. Without one (too few labels, or
``cv_estimate: false``) it is prequential: of the latest ``WINDOW`` annotations that arrived on a task the
serving model had predicted, the share it got right. Under active learning those are the tasks the strategy chose
as the hardest, so the prequential share is biased low and rarely opens the gate. An untrained model, a model at chance,
or one without enough evidence yet pre-ticks nothing; its predictions carry the score alone, which is all the
ranking (Label Studio's Uncertainty sampling) needs. ``preannotate_threshold: 0`` turns the gate off (every
prediction pre-ticked, as before this gate existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from labelsieve.storage.models import Annotation, ModelVersion

WINDOW = 50
MIN_EVIDENCE = 20
#: versions searched, newest first, for a 5-fold estimate (the newest retrain's may still be computing)
RECENT_VERSIONS = 5


@dataclass(frozen=True)
class PreannotationGate:
    threshold: float
    accuracy: float | None  # estimated accuracy; None without evidence
    evidence: int  # labels that scored the model
    source: str = "prequential"  # "5-fold" (cross-validation on the labelled set) or "prequential"

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

    @property
    def reason(self) -> str:
        """Why answers are or are not pre-ticked, in one sentence (shown in the project status)."""
        if self.threshold <= 0.0:
            return "preannotate_threshold is 0: every prediction carries its answer"
        if self.accuracy is None or self.evidence < MIN_EVIDENCE:
            return (f"nothing is pre-ticked: the accuracy is measured on {self.evidence} label(s), fewer than "
                    f"{MIN_EVIDENCE}")
        measured = f"the {self.source} accuracy {self.accuracy:.3f} on {self.evidence} labels"
        if not self.open:
            return f"nothing is pre-ticked: {measured} is not above {self.threshold}"
        return f"answers with a confidence above {self.threshold} are pre-ticked: {measured} is above it"

    def as_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "estimated_accuracy": self.accuracy, "evidence": self.evidence,
                "source": self.source, "min_evidence": MIN_EVIDENCE, "pre_ticks": self.open, "reason": self.reason}


def five_fold_estimate(*, session: Session, project_id: int) -> tuple[float, int] | None:
    """(accuracy, labels tested) of the newest 5-fold estimate with enough labels, or None."""
    metrics = session.exec(select(ModelVersion.metrics).where(col(ModelVersion.project_id) == project_id)
                           .order_by(col(ModelVersion.id).desc()).limit(RECENT_VERSIONS)).all()
    for found in metrics:
        estimate = (found or {}).get("cv_estimate") or {}
        if estimate.get("status") == "ok" and estimate.get("accuracy") is not None \
                and int(estimate.get("n_tested", 0)) >= MIN_EVIDENCE:
            return float(estimate["accuracy"]), int(estimate["n_tested"])
    return None


def gate_for(*, session: Session, project_id: int, threshold: float) -> PreannotationGate:
    """The project's gate: the newest 5-fold estimate, else its latest ``WINDOW`` scored annotations."""
    five_fold = five_fold_estimate(session=session, project_id=project_id)
    if five_fold is not None:
        return PreannotationGate(threshold=threshold, accuracy=five_fold[0], evidence=five_fold[1], source="5-fold")
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
