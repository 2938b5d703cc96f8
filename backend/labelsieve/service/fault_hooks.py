"""Test-only hooks that stop the service at a known point, so fault tests never race a sleep.

``LABELSIEVE_TEST_BLOCK_FIT=<path>``: every retrain, right before ``learner.fit``, writes ``<path>`` (with the
project id and the number of training labels) and then blocks until ``<path>.release`` exists. A test waits for
``<path>``, knows the retrain is inside ``fit``, and kills the process there. Unset (always, in production),
the hook costs one environment lookup per retrain.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)
BLOCK_FIT = "LABELSIEVE_TEST_BLOCK_FIT"


def before_fit(project_id: int, n_labels: int) -> None:
    """Block here when ``LABELSIEVE_TEST_BLOCK_FIT`` names a file (see the module docstring)."""
    target = os.environ.get(BLOCK_FIT)
    if not target:
        return
    path = Path(target)
    release = path.with_name(path.name + ".release")
    if release.exists():
        return
    log.warning("%s is set: retrain of project %s (%d labels) blocks before fit until %s exists",
                BLOCK_FIT, project_id, n_labels, release)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{project_id} {n_labels}\n")
    tmp.replace(path)  # the test sees the whole file or none
    while not release.exists():
        time.sleep(0.05)
