"""The project page in each state a user meets: no model, one, many, a failed retrain, Label Studio away,
auth on, and two projects side by side (no page shows the other's data)."""

from __future__ import annotations

import base64
import re
import time

import numpy as np
from sklearn.datasets import load_digits

from labelsieve.learners.vector import VectorLearner
from tests.factories import (
    IMAGE_CONFIG,
    TEXT_CONFIG,
    annotation_event,
    ls_task,
    predict_payload,
    setup_payload,
    write_digits,
)
from tests.pages.helpers import wait_idle
from tests.reliability.loopback import CountingServer


def _section(page: str, name: str) -> str:
    found = re.search(f'<section id="{name}">(.*?)</section>', page, re.S)
    assert found, f"section {name!r} missing"
    return found.group(1)


def _plots(fragment: str) -> list[str]:
    return re.findall(r'<img class="plot" alt="[^"]*" src="data:image/png;base64,([^"]+)"', fragment)


def _label(client, project: int, tasks: list[dict], truth: dict[int, str], first_id: int, config: str = IMAGE_CONFIG,
           names: tuple[str, str] = ("label", "image")) -> None:
    for n, task in enumerate(tasks):
        event = annotation_event("ANNOTATION_CREATED", annotation_id=first_id + n, task=task, project_id=project,
                                 config=config, from_name=names[0], to_name=names[1], choice=truth[task["id"]])
        assert client.post("/webhook", json=event).status_code == 200
    wait_idle(client.app, project)


def _digit_vectors(project: int, n: int = 300) -> tuple[list[dict], dict[int, str]]:
    digits = load_digits()
    order = np.random.default_rng(project).permutation(len(digits.target))[:n]
    tasks = [ls_task(project * 1000 + k, {"image": digits.data[i].tolist()}, project) for k, i in enumerate(order)]
    return tasks, {t["id"]: str(digits.target[i]) for t, i in zip(tasks, order, strict=True)}


def test_page_with_zero_one_and_many_versions_and_a_failed_retrain(client_factory, monkeypatch) -> None:
    project = 21
    tasks, truth = _digit_vectors(project)
    with client_factory(start_workers=False) as client:
        extra = {"learner": "vector", "strategy": "margin", "batch_size": 10}
        assert client.post("/setup", json=setup_payload(project, IMAGE_CONFIG, extra)).status_code == 200
        assert client.post("/predict", json=predict_payload(project, IMAGE_CONFIG, tasks)).status_code == 200

        zero = client.get(f"/projects/{project}/page")
        assert zero.status_code == 200 and zero.headers["content-type"].startswith("text/html")
        assert "No model has been trained yet." in _section(zero.text, "versions")
        assert _plots(zero.text) == [] and "Accuracy now: not known yet" in zero.text
        assert "No ranking yet" in _section(zero.text, "queue")

        _label(client, project, tasks[:20], truth, 1)
        one = client.get(f"/projects/{project}/page").text
        assert _section(one, "versions").count("<tr>") == 2 and "serving" in _section(one, "versions")
        assert len(_plots(_section(one, "class-balance"))) == 1  # counts per class; nothing scored yet
        assert "No scored model version yet" in _section(one, "learning-curve")
        assert len(_plots(_section(one, "diagnosis"))) == 2
        assert _section(one, "queue").count("<tr>") == 13  # header + the 12 next tasks

        def broken_fit(self, *args, **kwargs):
            raise RuntimeError("disk quota exceeded while fitting")

        with monkeypatch.context() as patch:
            patch.setattr(VectorLearner, "fit", broken_fit)
            _label(client, project, tasks[20:30], truth, 100)
        for start in range(30, 70, 10):
            _label(client, project, tasks[start:start + 10], truth, 200 + start)
        many = client.get(f"/projects/{project}/page").text
        versions = _section(many, "versions")
        assert versions.count("<tr>") == 1 + 6 and versions.count("serving") == 1
        assert "failed" in versions and "RuntimeError: disk quota exceeded while fitting" in versions
        curve = _section(many, "learning-curve")
        assert len(_plots(curve)) == 1 and "Projection:" in curve
        assert all(len(base64.b64decode(p)) > 5000 for p in _plots(many))
        report = client.get(f"/projects/{project}/report").json()
        assert report["projection"]["status"] in ("ok", "degenerate", "insufficient")
        assert report["accuracy_estimate"]["method"].startswith("prequential") and not report["accuracy_estimate"][
            "unbiased"]
        assert client.get("/projects/999/page").status_code == 404


def test_page_renders_from_the_cache_when_label_studio_is_unreachable(client_factory, tmp_path) -> None:
    project, root = 22, tmp_path / "media"
    paths, labels = write_digits(root, np.arange(120))
    media = CountingServer().start()
    for path in paths:
        media.routes[f"/data/upload/{project}/{path.split('/')[-1]}"] = (200, (root / path).read_bytes())
    tasks = [ls_task(project * 1000 + k, {"image": f"/data/upload/{project}/{p.split('/')[-1]}"}, project)
             for k, p in enumerate(paths)]
    truth = {t["id"]: str(labels[k]) for k, t in enumerate(tasks)}
    with client_factory(label_studio_url=media.url, label_studio_api_key="legacy-token", verify_webhooks=False,
                        local_files_document_root=None, start_workers=False) as client:
        extra = {"learner": "image", "learner_params": {"epochs": 2}, "batch_size": 10}
        assert client.post("/setup", json=setup_payload(project, IMAGE_CONFIG, extra)).status_code == 200
        assert client.post("/predict", json=predict_payload(project, IMAGE_CONFIG, tasks)).status_code == 200
        _label(client, project, tasks[:20], truth, 1)
        _label(client, project, tasks[20:30], truth, 50)
        media.stop()  # Label Studio goes away: the API and the media with it
        started = time.monotonic()
        page = client.get(f"/projects/{project}/page")
        elapsed = time.monotonic() - started
    assert page.status_code == 200
    queue = _section(page.text, "queue")
    assert queue.count('class="thumb"') >= 10  # previews from the media cache the training filled
    assert len(_plots(_section(page.text, "diagnosis"))) == 2
    assert elapsed < 60  # bounded: thumbnails have a deadline, nothing waits on Label Studio's timeouts


def test_pages_need_credentials_when_auth_is_on(client_factory) -> None:
    with client_factory(basic_auth_user="ls", basic_auth_pass="s3cret") as client:
        good = {"Authorization": "Basic " + base64.b64encode(b"ls:s3cret").decode()}
        assert client.post("/setup", json=setup_payload(5, IMAGE_CONFIG), headers=good).status_code == 200
        for path in ("/projects/page", "/projects/5/page"):
            refused = client.get(path)
            assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
            assert "<html" not in refused.text
            assert client.get(path, headers={"Authorization": "Basic " + base64.b64encode(b"ls:nope").decode()}
                              ).status_code == 401
            assert client.get(path, headers=good).status_code == 200
        assert client.get("/health", headers=good).json()["page"].endswith("/projects/page")
        assert client.get("/projects/5", headers=good).json()["page"].endswith("/projects/5/page")


def test_no_page_shows_another_projects_data(client_factory) -> None:
    words = {31: "alpha", 32: "bravo"}
    with client_factory(start_workers=False) as client:
        for project, word in words.items():
            tasks = [ls_task(project * 1000 + k, {"text": f"{word}{k} {'good great' if k % 2 else 'bad awful'}"},
                             project) for k in range(60)]
            truth = {t["id"]: "Positive" if t["id"] % 2 else "Negative" for t in tasks}
            extra = {"learner": "text", "batch_size": 10}
            assert client.post("/setup", json=setup_payload(project, TEXT_CONFIG, extra)).status_code == 200
            assert client.post("/predict", json=predict_payload(project, TEXT_CONFIG, tasks)).status_code == 200
            _label(client, project, tasks[:20], truth, project * 100, TEXT_CONFIG, ("sentiment", "text"))
        pages = {p: client.get(f"/projects/{p}/page").text for p in words}
        index = client.get("/projects/page").text
    for project, word in words.items():
        other = words[63 - project]
        assert f"{word}2" in _section(pages[project], "queue") or f"{word}3" in _section(pages[project], "queue")
        text = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", pages[project])  # not the PNGs' base64
        # neither the other project's words nor its task ids (32000-32059 / 31000-31059 as whole numbers; a
        # version's timestamp such as 20261207023206 may hold the digits 320 and is not the other project's data)
        assert other not in text and re.search(rf"(?<![0-9]){63 - project}0[0-9][0-9](?![0-9])", text) is None
        assert f'href="/projects/{project}/page"' in index
