"""A real headless Chromium opens the page of a project trained through webhooks on a live server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.harness.chromium import Chromium, ChromiumMissing, chromium_binary
from tests.pages.helpers import train_digits

PROJECT = 17
PROBE = """(() => {
  const sections = {};
  for (const s of document.querySelectorAll('section')) {
    sections[s.id] = {
      text: s.innerText.length,
      plots: [...s.querySelectorAll('img.plot')].map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
      thumbs: [...s.querySelectorAll('img.thumb')].map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
      empty: [...s.querySelectorAll('.empty')].map(e => e.innerText),
      matrices: [...s.querySelectorAll('table.confusion-matrix')].map(t => [t.querySelectorAll('tr').length,
        t.getBoundingClientRect().width]),
    };
  }
  return {title: document.title, sections, links: [...document.querySelectorAll('a')].map(a => a.href),
          height: document.documentElement.scrollHeight};
})()"""


@pytest.fixture(scope="module")
def browser():
    try:
        chromium_binary()
    except ChromiumMissing as exc:
        pytest.fail(str(exc))  # make test installs it: a missing browser is a broken setup, not a skip
    chrome = Chromium().start()
    yield chrome
    chrome.stop()


def _loaded(images: list[list[object]]) -> bool:
    return bool(images) and all(done and width > 20 and height > 20 for done, width, height in images)


def test_browser_shows_every_section_with_its_plots_and_nothing_leaves_loopback(
        browser, live_server, http, digits_root, tmp_path) -> None:
    root, paths, labels = digits_root
    with live_server(local_files_document_root=root, start_workers=False) as (url, app), http(url) as client:
        train_digits(client, app, PROJECT, paths, labels, rounds=4, extra={"audit_share": 0.2})
        shot = tmp_path / "project-page.png"
        visit = browser.visit(f"{url}/projects/{PROJECT}/page", probe=PROBE, screenshot=shot)
        index = browser.visit(f"{url}/projects/page", probe=PROBE)

    assert visit.status == 200
    sections = visit.dom["sections"]
    for name in ("learning-curve", "class-balance", "queue", "diagnosis", "versions"):
        assert name in sections and sections[name]["text"] > 40, (name, sections.get(name))
    assert len(sections["learning-curve"]["plots"]) == 1 and _loaded(sections["learning-curve"]["plots"])
    assert len(sections["class-balance"]["plots"]) == 2 and _loaded(sections["class-balance"]["plots"])
    assert len(sections["diagnosis"]["plots"]) == 2 and _loaded(sections["diagnosis"]["plots"])
    assert len(sections["queue"]["thumbs"]) >= 10 and _loaded(sections["queue"]["thumbs"])
    # the random audit sample's confusion matrix (20% audit share): one row per class seen, drawn with a width
    assert sections["cv-estimate"]["matrices"] and all(rows >= 2 and width > 50
                                                       for rows, width in sections["cv-estimate"]["matrices"])
    assert "drift" in sections and "audit" in sections
    # the page and nothing else: every plot and thumbnail is inline (data:), no script, font or CDN
    external = [u for u in visit.requests + index.requests if not u.startswith("data:")]
    assert external and all(urlsplit(u).hostname == "127.0.0.1" for u in external), external
    assert [u for u in external if urlsplit(u).path not in ("/projects/17/page", "/projects/page")] == []
    assert shot.stat().st_size > 30_000 and visit.dom["height"] > 1500
    assert f"{url}/projects/{PROJECT}/page" in index.dom["links"]


ISSUES_PROBE = """(() => {
  const s = document.querySelector('section#label-issues');
  if (!s) return null;
  const rows = [...s.querySelectorAll('table.issues tr')].filter(r => r.querySelector('td'));
  return {rows: rows.map(r => [...r.cells].map(c => c.innerText)), text: s.innerText};
})()"""


def test_a_scorecard_with_candidates_shows_them_on_the_page(browser, live_server, http, digits_root) -> None:
    from labelsieve.quality.scorecard import ScoreRow
    from labelsieve.quality.scorecard_files import save_scorecard
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    root, paths, labels = digits_root
    with live_server(local_files_document_root=root, start_workers=False) as (url, app), http(url) as client:
        train_digits(client, app, PROJECT, paths, labels, rounds=1, extra={"label_issues": False})  # no runner
        before = browser.visit(f"{url}/projects/{PROJECT}/page", probe=ISSUES_PROBE)
        service = app.state.service
        with session_scope(service.engine) as session:
            version = crud.get_project(session=session, project_id=PROJECT).model_version

        def row(task_id: int, given: str, suggested: str, score: float, recommendation: str) -> ScoreRow:
            return ScoreRow(task_id=task_id, annotation_id=task_id, label=given, suggested_label=suggested,
                            suggested_confidence=0.9, issue_score=score, flagged=recommendation != "keep",
                            value=0.0, influence=0.0, uncertainty=0.1, duplicate_of=None, similarity=0.0,
                            recommendation=recommendation, reason="label issue (cleanlab)")

        save_scorecard(service.artifacts, PROJECT, version,
                       [row(170003, "5", "9", 0.97, "review"), row(170007, "1", "7", 0.88, "prune"),
                        row(170001, "3", "3", 0.01, "keep")], {"summary": {"flagged": 2}})
        after = browser.visit(f"{url}/projects/{PROJECT}/page", probe=ISSUES_PROBE)

    assert not before.dom  # no scorecard yet: no section
    assert after.status == 200 and after.dom
    assert [r[:3] for r in after.dom["rows"]] == [["170003", "5", "9"], ["170007", "1", "7"]]  # keep rows not shown
