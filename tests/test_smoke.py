from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_it_refuses_anonymous_api_calls(api):
    response = api.get("/api/v1/patients/")
    assert response.status_code == 401
    assert "detail" in response.json()
