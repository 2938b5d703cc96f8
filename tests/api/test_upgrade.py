"""A database in labelsieve 0.1.0's shape (its schema, no ``alembic_version``) written with real
annotations, a trained model and a stored ranking, upgrades when the new code starts and then serves
the same annotations and the same predictions."""

from __future__ import annotations

from alembic import command
from benchmarks.load import PROJECT, make_events
from sqlalchemy import inspect, text

from labelsieve.storage import crud, migrate, rankings
from labelsieve.storage.db import session_scope
from tests.api.helpers import wait_trained
from tests.factories import TEXT_CONFIG, ls_task, predict_payload, setup_payload


def _annotations(client) -> list[tuple[int, int, list[str]]]:
    with session_scope(client.app.state.service.engine) as session:
        return [(a.id, a.task_id, list(a.labels)) for a in crud.list_annotations(session=session, project_id=PROJECT)]


def test_a_release_database_upgrades_on_start_and_serves_the_same(client_factory) -> None:
    probe = [ls_task(90_000 + i, {"text": text_}, PROJECT) for i, text_ in
             enumerate(["good great fine", "bad awful poor", "the nice day", "a grim broken thing"])]
    with client_factory(debounce_seconds=0.05) as client:
        # gate off: the test compares the pre-ticked answers served before and after the upgrade
        setup = setup_payload(PROJECT, TEXT_CONFIG, {"preannotate_threshold": 0})
        assert client.post("/setup", json=setup).status_code == 200
        client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, probe))  # into the pool: ranked
        for event in make_events(40):
            assert client.post("/webhook", json=event).status_code == 200
        wait_trained(client)
        before = client.get(f"/projects/{PROJECT}").json()
        served_before = client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, probe)).json()
        annotations_before = _annotations(client)
        engine = client.app.state.service.engine
        with session_scope(engine) as session:
            ranked = rankings.lookup(session=session, project_id=PROJECT, version=before["model_version"],
                                     task_ids=[t["id"] for t in probe])
        assert len(ranked) == len(probe), "the probe tasks were ranked and their ranking stored"
        with engine.begin() as connection:  # back to the release's shape: its schema, no alembic_version
            command.downgrade(migrate.alembic_config(connection), migrate.BASELINE)
            connection.execute(text("DROP TABLE alembic_version"))
        assert "alembic_version" not in inspect(engine).get_table_names()
    with client_factory(debounce_seconds=0.05) as client:  # the new code starts on it
        with client.app.state.service.engine.connect() as connection:
            assert migrate.current(connection) == migrate.head()
        after = client.get(f"/projects/{PROJECT}").json()
        served_after = client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, probe)).json()
        assert _annotations(client) == annotations_before and len(annotations_before) == 40
    assert after["model_version"] == before["model_version"] and after["versions"] == before["versions"]
    assert after["annotations"] == before["annotations"] == 40
    assert served_after == served_before
    assert all(r["result"] for r in served_after["results"])
