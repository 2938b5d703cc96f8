"""A boxes project at /setup: refused with a 400 that says what works today (not accepted and broken later)."""

from __future__ import annotations

from tests.factories import setup_payload

BOXES = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
         '<Label value="car"/><Label value="person"/></RectangleLabels></View>')
POLYGONS = ('<View><Image name="img" value="$image"/><PolygonLabels name="p" toName="img">'
            '<Label value="car"/></PolygonLabels></View>')


def test_setup_refuses_boxes_naming_the_simulation(client) -> None:
    for extra in (None, {"strategy": "random"}):
        response = client.post("/setup", json=setup_payload(91, BOXES, extra))
        assert response.status_code == 400, response.text
        assert "boxes task type" in response.text and "simulate --task-type boxes" in response.text


def test_setup_refuses_polygons_naming_segmentation(client) -> None:
    response = client.post("/setup", json=setup_payload(92, POLYGONS))
    assert response.status_code == 400 and "segmentation task type" in response.text
