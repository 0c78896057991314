"""What the answering tests share: ``ask``, a question over HTTP on a plant whose clock is Singapore's."""

import pytest

ORCHESTRATE = "/api/layer2/orchestrate/"


@pytest.fixture
def ask(settings, api_client, serving):
    settings.PLANT_TIME_ZONE = "Asia/Singapore"

    def post(transcript: str) -> dict:
        response = api_client.post(ORCHESTRATE, {"transcript": transcript}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    return post
