"""The pre-annotation gate reads the 5-fold estimate when there is one: under active learning the prequential score
(labels on the tasks the strategy chose as the hardest) stays low and kept the gate shut even when the model was
right on most of the pool; a project connected with many labels must not wait for new ones either."""

from __future__ import annotations

from pathlib import Path

from labelsieve.storage import crud
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.storage.models import ModelVersion
from labelsieve.storage.preannotation import MIN_EVIDENCE, gate_for


def _versions(tmp_path: Path, estimates: list[dict | None]):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with session_scope(engine) as session:
        for number, estimate in enumerate(estimates, start=1):
            crud.add_model_version(session=session, row=ModelVersion(
                project_id=1, version=f"v{number}", number=number, learner="vector",
                metrics={"cv_estimate": estimate} if estimate else {}))
    return engine


def test_a_good_five_fold_estimate_opens_the_gate_without_new_labels(tmp_path: Path) -> None:
    engine = _versions(tmp_path, [{"status": "ok", "accuracy": 0.93, "n_tested": 120}])
    with session_scope(engine) as session:
        gate = gate_for(session=session, project_id=1, threshold=0.8)
    assert gate.open and gate.source == "5-fold" and gate.evidence == 120
    assert gate.allows(0.9) and not gate.allows(0.7)  # the task's own confidence still decides
    assert "0.930 on 120 labels" in gate.as_dict()["reason"] and gate.as_dict()["pre_ticks"] is True
    engine.dispose()


def test_a_weak_or_thin_estimate_keeps_it_shut_and_says_why(tmp_path: Path) -> None:
    engine = _versions(tmp_path, [{"status": "ok", "accuracy": 0.95, "n_tested": MIN_EVIDENCE + 5},
                                  {"status": "ok", "accuracy": 0.6, "n_tested": 80}])
    with session_scope(engine) as session:
        gate = gate_for(session=session, project_id=1, threshold=0.8)  # the newest estimate wins
    assert not gate.open and gate.accuracy == 0.6 and "not above 0.8" in gate.reason
    (tmp_path / "thin").mkdir()
    thin = _versions(tmp_path / "thin", [{"status": "ok", "accuracy": 1.0, "n_tested": MIN_EVIDENCE - 1}])
    with session_scope(thin) as session:
        gate = gate_for(session=session, project_id=1, threshold=0.8)  # too few: the prequential fallback
    assert not gate.open and gate.source == "prequential" and "fewer than" in gate.reason
    engine.dispose()
    thin.dispose()
