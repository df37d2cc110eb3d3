"""The OpenAPI schema: valid, served, and honest about error responses.

Clients and API fuzzing are generated from it, so it must validate with no
warnings and document the refusals the API really gives (config/api_docs.py):
401 and 403 everywhere, 400 on every write.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict, methods: set[str] = HTTP_METHODS) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in methods
    ]


def missing(schema: dict, code: str, methods: set[str] = HTTP_METHODS) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema, methods)
        if code not in operation["responses"]
    ]


def test_the_schema_validates_with_no_warnings(tmp_path: Path):
    GENERATOR_STATS.reset()  # warnings from earlier generations in this process are not ours
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    written = yaml.safe_load(out.read_text())
    assert written["info"]["title"] == "Chairside API"
    assert "/api/v1/patients/" in written["paths"]


def test_the_schema_covers_the_patient_catalogue_and_token_endpoints(schema):
    assert {
        "/api/v1/auth/token/",
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/patients/{id}/weights/",
        "/api/v1/products/",
        "/api/v1/products/{code}/",
        "/api/v1/protocols/",
        "/api/v1/centers/",
        "/api/v1/chairs/{id}/",
    } <= set(schema["paths"])


@pytest.mark.parametrize("code", ["401", "403"])
def test_every_operation_documents_that_it_may_refuse_the_caller(schema, code):
    assert len(operations(schema)) > 20
    assert missing(schema, code) == []


def test_every_write_documents_bad_input(schema):
    assert len(operations(schema, WRITES)) > 10
    assert missing(schema, "400", WRITES) == []


def test_every_write_documents_a_conflict(schema):
    assert missing(schema, "409", WRITES) == []


def test_every_operation_on_one_record_documents_not_found(schema):
    on_one = {path for path in schema["paths"] if "{" in path}
    assert on_one
    assert [op for op in missing(schema, "404") if op.split(" ", 1)[1] in on_one] == []


def test_the_token_endpoint_documents_throttling_and_its_token(schema):
    post = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "429" in post["responses"]
    body = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Token"}
    assert schema["components"]["schemas"]["Token"]["required"] == ["token"]


def test_the_catalogue_is_documented_as_read_only(schema):
    assert set(schema["paths"]["/api/v1/products/"]) & WRITES == set()
    assert set(schema["paths"]["/api/v1/products/{code}/"]) & WRITES == set()


def test_staff_fetch_the_schema(client_for, nurse):
    response = client_for(nurse).get("/api/schema/")
    assert response.status_code == 200
    served = yaml.safe_load(response.content)
    assert "/api/v1/patients/{id}/weights/" in served["paths"]


def test_staff_open_the_api_docs(api, scheduler):
    api.force_login(scheduler)
    response = api.get("/api/docs/")
    assert response.status_code == 200
    assert "swagger" in response.content.decode().lower()
    assert "/api/schema/" in response.content.decode()
