"""What the top of a project page says: the 5-fold estimate as the headline, the prequential score of the tasks the
strategy chose (the hardest, so biased low) only as a footnote; no "Waiting and failing" row when nothing waits."""

from __future__ import annotations

import re

from labelsieve.pages.hooks import waiting_events
from labelsieve.pages.sections import estimate_text

BIASED = {"value": 0.367, "ci": [0.22, 0.54], "n": 30, "method": "prequential (the strategy's picks)",
          "unbiased": False, "note": "biased low"}
CV = {"status": "ok", "accuracy": 0.874, "macro_f1": 0.861, "n_labels": 40, "n_used": 40}


def _headline(html: str) -> str:
    return re.search(r"Accuracy now: <b>([^<]+)</b>", html).group(1)


def test_the_headline_is_the_five_fold_estimate_and_the_biased_score_a_footnote() -> None:
    html = estimate_text({"accuracy_estimate": BIASED}, CV)
    assert _headline(html) == "87.4%"
    assert "5-fold cross-validation on the 40 labels" in html
    footnote = html.split('class="note footnote">', 1)[1]
    assert "36.7%" in footnote and "biased low" in footnote
    assert html.index("87.4%") < html.index("36.7%")


def test_an_unbiased_audit_estimate_stays_the_headline() -> None:
    audited = {**BIASED, "value": 0.9, "unbiased": True, "method": "audit sample"}
    assert _headline(estimate_text({"accuracy_estimate": audited}, CV)) == "90.0%"


def test_before_the_five_fold_estimate_the_biased_score_is_never_the_headline() -> None:
    html = estimate_text({"accuracy_estimate": BIASED}, None)
    assert "Accuracy now: <b>" not in html and "not known yet" in html and "36.7%" in html


def test_nothing_waits_means_no_waiting_rows() -> None:
    ok = {"waiting": {"state": "ok", "events": 0, "reason": None, "last_error": None}}
    assert waiting_events(ok) == []
    stuck = {"waiting": {"state": "waiting_for_label_studio", "events": 3, "last_error": "refused"}}
    assert len(waiting_events(stuck)) == 1
