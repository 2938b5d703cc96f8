"""labelsieve's paged task listing against a real Label Studio 1.23.2: every page by id, none by number.

Label Studio's ``page`` numbers are SQL offsets and every page also counts the whole filtered set, so a
numbered listing of a large project costs O(pages²); labelsieve asks each time for the first tasks above the
highest id it has seen (always ``page=1``)."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from labelsieve.labelstudio.client import LabelStudioClient
from tests.e2e.helpers import create_project, text_dataset


def test_listing_pages_by_id_and_returns_every_task_once(label_studio) -> None:
    ls = label_studio
    pid, truth = create_project(ls, "listing by id", text_dataset(23, seed=5))
    ids = sorted(truth)
    client = LabelStudioClient(ls.url, ls.token)
    mark = len(ls.log_path.read_text(errors="replace"))

    listed = client.list_tasks(pid, after_id=0, page_size=5)
    after = client.list_tasks(pid, after_id=ids[9], page_size=4)
    every_id = client.task_ids(pid, page_size=6)

    assert [t["id"] for t in listed] == ids
    assert all(t["data"].get("text") for t in listed), "the task data comes with each task"
    assert [t["id"] for t in after] == ids[10:]
    assert every_id == ids
    requests = [line for line in ls.log_path.read_text(errors="replace")[mark:].splitlines() if "/api/tasks/" in line]
    pages = {int(m) for line in requests for m in re.findall(r"[?&]page=(\d+)", line)}
    assert pages == {1}, requests[:5]
    above = {int(m) for line in requests for m in re.findall(r'"value": (\d+)', unquote_plus(line))}
    # each request starts above the last id of the one before: 23 by 5, the 13 after ids[9] by 4, 23 by 6
    assert above == {0, ids[4], ids[9], ids[14], ids[19]} | {ids[9], ids[13], ids[17], ids[21]} | {
        0, ids[5], ids[11], ids[17]}


def test_round_reads_and_patches_the_project_without_its_counters(label_studio) -> None:
    """The sync reads ``task_number`` alone and the switch's PATCH asks for no counter back: Label Studio
    computes each of a project's counters as an aggregate over all its tasks."""
    ls = label_studio
    pid, truth = create_project(ls, "counters", text_dataset(12, seed=6))
    client = LabelStudioClient(ls.url, ls.token)
    mark = len(ls.log_path.read_text(errors="replace"))

    assert client.task_number(pid) == 12
    first = min(truth)
    ls.api("POST", f"/api/projects/{pid}/import/predictions", json=[{
        "task": first, "model_version": "v-test", "score": 0.5, "result": []}]).raise_for_status()
    client.update_project(pid, model_version="v-test")

    assert ls.api("GET", f"/api/projects/{pid}/").json()["model_version"] == "v-test"
    requests = [unquote_plus(line) for line in ls.log_path.read_text(errors="replace")[mark:].splitlines()
                if f"/api/projects/{pid}/?" in line]
    assert any(line.split('"')[1].startswith(f"GET /api/projects/{pid}/?include=task_number") for line in requests)
    assert any(line.split('"')[1].startswith(f"PATCH /api/projects/{pid}/?include=id") for line in requests)
