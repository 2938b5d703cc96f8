"""Observer mode at /setup: a boxes project that observes another backend is accepted (it trains nothing), an NER
project or one of labelsieve's own versions is refused naming why, and the status says the mode."""

from __future__ import annotations

from tests.factories import setup_payload

BOXES = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
         '<Label value="car"/><Label value="person"/></RectangleLabels></View>')
NER = '<View><Text name="text" value="$text"/><Labels name="ner" toName="text"><Label value="PER"/></Labels></View>'



def test_setup_accepts_boxes_in_observer_mode(client) -> None:
    response = client.post("/setup", json=setup_payload(93, BOXES, {"observe": "yolo-v8"}))
    assert response.status_code == 200, response.text
    status = client.get("/projects/93").json()
    assert status["observer"]["mode"] == "observer" and status["versions"] == []
    page = client.get("/projects/93/page")
    assert page.status_code == 200 and "Observer mode" in page.text, page.text[-2000:]
    refused = client.post("/setup", json=setup_payload(94, NER, {"observe": "yolo-v8"}))
    assert refused.status_code == 400 and "observer mode serves task type" in refused.text
    own = client.post("/setup", json=setup_payload(95, BOXES, {"observe": "labelsieve-v2"}))
    assert own.status_code == 400 and "labelsieve's own" in own.text
