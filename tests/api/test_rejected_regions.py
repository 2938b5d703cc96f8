"""Regions a project's task type refuses are recorded per annotation with the reason and shown in the project
status; the annotation itself is stored whole and its good regions train the model."""

from __future__ import annotations

from labelsieve.service.events import apply_pending
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from tests.factories import ls_task, project_dict, setup_payload

NER = ('<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
       '<Text name="text" value="$text"/></View>')
BOXES = ('<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image">'
         '<Label value="disc"/><Label value="cross"/></RectangleLabels></View>')


def _event(config: str, project: int, annotation_id: int, task: dict, result: list[dict]) -> dict:
    annotation = {"id": annotation_id, "result": result, "was_cancelled": False, "ground_truth": False,
                  "lead_time": 3.0, "task": task["id"], "project": project, "completed_by": 1}
    return {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": task,
            "project": project_dict(project, config)}


def _span(start: int, end: int, quoted: str, label: str) -> dict:
    return {"id": f"s{start}", "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": quoted, "labels": [label]}}


def _box(x: float, y: float, w: float, h: float, label: str) -> dict:
    return {"id": f"b{x}", "from_name": "box", "to_name": "image", "type": "rectanglelabels",
            "original_width": 64, "original_height": 48, "image_rotation": 0,
            "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]}}


def test_an_ner_annotation_with_a_bad_span_is_stored_and_the_span_shown_with_its_reason(client_factory) -> None:
    project = 61
    with client_factory(start_workers=False) as client:
        assert client.post("/setup", json=setup_payload(project, NER)).status_code == 200
        text = "Ann met Bob in Paris"
        task = ls_task(700, {"text": text}, project)
        result = [_span(0, 3, "Ann", "PER"), _span(8, 10, "Bob", "PER")]  # the second is one character short
        assert client.post("/webhook", json=_event(NER, project, 900, task, result)).status_code == 200
        service = client.app.state.service
        assert apply_pending(service.engine, project).errors == []
        status = client.get(f"/projects/{project}").json()
        with session_scope(service.engine) as session:
            stored = crud.list_annotations(session=session, project_id=project)
            examples = crud.labeled_examples(session=session, project_id=project)
        served = service.loop.served(NER)
        target = served.task_type.target(examples[0][1].result, served.config, {"text": text})

    assert [a.result for a in stored] == [result], "the annotation is stored whole: nothing lost"
    assert status["annotations"] == 1 and status["labeled_tasks"] == 1
    refused = status["rejected_regions"]
    assert refused["count"] == 1
    (entry,) = refused["latest"]
    assert (entry["annotation"], entry["task"], entry["region"]) == (900, 700, "PER span 8..10")
    assert "'Bo'" in entry["reason"] and "'Bob'" in entry["reason"]
    assert target.tags()[0] == ["B-PER", "O", "O", "O", "O"], "training reads the good span only"


def test_a_fixed_annotation_clears_its_record_and_a_deleted_one_takes_it_along(client_factory) -> None:
    project = 62
    with client_factory(start_workers=False) as client:
        assert client.post("/setup", json=setup_payload(project, NER)).status_code == 200
        task = ls_task(701, {"text": "Ann met Bob"}, project)
        bad = [_span(0, 3, "Ann", "ORG"), _span(8, 11, "Bob", "PER")]  # ORG is not a label of the config
        client.post("/webhook", json=_event(NER, project, 901, task, bad))
        client.post("/webhook", json=_event(NER, project, 902, ls_task(702, {"text": "Bob"}, project), bad[:1]))
        engine = client.app.state.service.engine
        apply_pending(engine, project)
        before = client.get(f"/projects/{project}").json()["rejected_regions"]
        fixed = _event(NER, project, 901, task, [_span(0, 3, "Ann", "PER"), bad[1]])
        fixed["action"] = "ANNOTATION_UPDATED"
        client.post("/webhook", json=fixed)
        apply_pending(engine, project)
        after_fix = client.get(f"/projects/{project}").json()["rejected_regions"]
        client.post("/webhook", json={"action": "ANNOTATIONS_DELETED", "project": {"id": project},
                                      "annotations": [{"id": 902}]})
        apply_pending(engine, project)
        after_delete = client.get(f"/projects/{project}").json()["rejected_regions"]
    assert before["count"] == 2 and {e["annotation"] for e in before["latest"]} == {901, 902}
    assert "'ORG' is not a <Label>" in before["latest"][0]["reason"]
    assert after_fix["count"] == 1 and after_fix["latest"][0]["annotation"] == 902
    assert after_delete is None


def test_a_box_outside_the_image_is_recorded_and_the_rest_of_the_annotation_applied(client_factory) -> None:
    """Boxes outside the image, of zero area, or with a label the config lacks: each recorded with its reason, the
    annotation stored whole, and training reads the good box. The project row is stored as a boxes project
    directly; the webhook, the applier and the status are the service's."""
    project = 63
    with client_factory(start_workers=False) as client:
        engine = client.app.state.service.engine
        with session_scope(engine) as session:
            crud.upsert_project(session=session, project_id=project, label_config=BOXES)
        task = ls_task(703, {"image": "/data/upload/1/a.png"}, project)
        result = [_box(10, 10, 30, 40, "disc"), _box(120, 5, 10, 10, "cross"), _box(5, 5, 0, 10, "disc"),
                  _box(50, 50, 10, 10, "star")]
        assert client.post("/webhook", json=_event(BOXES, project, 903, task, result)).status_code == 200
        assert apply_pending(engine, project).errors == []
        status = client.get(f"/projects/{project}").json()
        with session_scope(engine) as session:
            stored = crud.list_annotations(session=session, project_id=project)
        served = client.app.state.service.loop.served(BOXES)
    assert [a.result for a in stored] == [result] and stored[0].labels == ["disc"]
    refused = status["rejected_regions"]
    assert refused["count"] == 3
    reasons = {e["region"]: e["reason"] for e in refused["latest"]}
    assert set(reasons) == {"box 1 (cross)", "box 2 (disc)", "box 3 (star)"}
    assert "outside the image" in reasons["box 1 (cross)"] and "zero area" in reasons["box 2 (disc)"]
    assert "'star' is not one of the label config's labels" in reasons["box 3 (star)"]
    target = served.task_type.target(result, served.config)
    assert target.labels == ["disc"], "training reads the box inside the image only"
