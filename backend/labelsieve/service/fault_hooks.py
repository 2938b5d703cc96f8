"""Test-only hooks that stop the service at a known point, so fault tests never race a sleep.

``LABELSIEVE_TEST_BLOCK_FIT=<path>``: every retrain, right before ``learner.fit``, writes ``<path>`` (with the
project id and the number of training labels) and then blocks until ``<path>.release`` exists. A test waits for
``<path>``, knows the retrain is inside ``fit``, and kills the process there.
``LABELSIEVE_TEST_BLOCK_PRUNE=<path>``: the same, in the background prune of stale prediction versions right
before its deletes in Label Studio (``<path>`` holds the project id and the version that went live), so a test
knows the prune is held while the next round fits.
``LABELSIEVE_TEST_BLOCK_SYNC=<path>``: the same, in a first contact's task sync after each stored page, before the
next is asked for (``<path>`` holds the project id and that page's number), so a test sees the first head served
while the sync is held. Unset (always, in production), each hook costs one
environment lookup.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)
BLOCK_FIT = "LABELSIEVE_TEST_BLOCK_FIT"
BLOCK_PRUNE = "LABELSIEVE_TEST_BLOCK_PRUNE"
BLOCK_SYNC = "LABELSIEVE_TEST_BLOCK_SYNC"


def before_fit(project_id: int, n_labels: int) -> None:
    """Block here when ``LABELSIEVE_TEST_BLOCK_FIT`` names a file (see the module docstring)."""
    _block(BLOCK_FIT, f"{project_id} {n_labels}", f"retrain of project {project_id} ({n_labels} labels) blocks "
           "before fit")


def before_prune(project_id: int, live_version: str) -> None:
    """Block here when ``LABELSIEVE_TEST_BLOCK_PRUNE`` names a file (see the module docstring)."""
    _block(BLOCK_PRUNE, f"{project_id} {live_version}", f"the prune of project {project_id} after {live_version} "
           "blocks before its deletes")


def _block(variable: str, line: str, what: str) -> None:
    target = os.environ.get(variable)
    if not target:
        return
    path = Path(target)
    release = path.with_name(path.name + ".release")
    if release.exists():
        return
    log.warning("%s is set: %s until %s exists", variable, what, release)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(line + "\n")
    tmp.replace(path)  # the test sees the whole file or none
    while not release.exists():
        time.sleep(0.05)


def before_sync_page(project_id: int, page: int) -> None:
    """Block here when ``LABELSIEVE_TEST_BLOCK_SYNC`` names a file (see the module docstring)."""
    _block(BLOCK_SYNC, f"{project_id} {page}", f"the first contact of project {project_id} blocks before page {page}")
