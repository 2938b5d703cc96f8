"""The simulation's oracle: it answers a batch with the data set's labels, through the service's webhook path."""

from __future__ import annotations

from typing import Any

import numpy as np

from labelsieve.labelstudio.protocol import WebhookPayload
from labelsieve.service.events import accept, apply_pending
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.simulate.datasets import Dataset
from labelsieve.simulate.run_config import SimulationError
from labelsieve.simulate.splits import Split
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope


def annotate(loop: ActiveLearningLoop, dataset: Dataset, split: Split, positions: list[int], *, input_kind: str,
             project_id: int) -> None:
    """The oracle answers: one ANNOTATIONS_CREATED webhook for the batch, stored and applied as the service does
    (its inbox, then the one applier). ``positions`` index ``split.train`` (task id = position + 1); each label comes
    from the data set."""
    with session_scope(loop.engine) as session:
        first = crud.count_annotations(session=session, project_id=project_id) + 1
    lead = dataset.lead_times
    annotations = []
    for offset, position in enumerate(positions):
        item = int(split.train[position])
        annotation: dict[str, Any] = {
            "id": first + offset, "task": position + 1, "project": project_id,
            "result": [{"from_name": "label", "to_name": "text" if input_kind == "text" else "image",
                        "type": "choices", "value": {"choices": list(dataset.label_sets[item])}}],
        }
        if lead is not None and np.isfinite(lead[item]):
            annotation["lead_time"] = float(lead[item])
        annotations.append(annotation)
    payload = {"action": "ANNOTATIONS_CREATED", "project": {"id": project_id}, "annotation": annotations,
               "task": [{"id": p + 1, "data": {}} for p in positions]}
    accept(loop.engine, WebhookPayload.model_validate(payload))  # the service's inbox and applier
    applied = apply_pending(loop.engine, project_id)
    if applied.errors:
        raise SimulationError(f"the oracle's annotations could not be stored: {'; '.join(applied.errors)}")
