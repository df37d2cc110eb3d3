"""API pages: the count, the next and previous links, whatever the limit and offset,
and the COUNT query only when the page cannot tell the count itself (config/api.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db
ROWS = 7


@pytest.fixture
def listing(client_for, scheduler):
    PatientFactory.create_batch(ROWS)
    client = client_for(scheduler)

    def page(**query: int) -> tuple[dict, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/patients/", query)
        assert response.status_code == 200, response.content
        return response.json(), [q["sql"] for q in queries]

    return page


@pytest.mark.parametrize("limit", [1, 2, 3, 6, 7, 8, 100])
@pytest.mark.parametrize("offset", [0, 1, 3, 6, 7, 8, 50])
def test_every_page_tells_the_true_count_and_the_right_rows_and_links(listing, limit, offset):
    everything, _ = listing(limit=1000)
    body, _ = listing(limit=limit, offset=offset)

    assert body["count"] == ROWS
    assert [p["id"] for p in body["results"]] == [p["id"] for p in everything["results"]][
        offset : offset + limit
    ]
    assert (body["next"] is not None) == (offset + limit < ROWS)
    assert (body["previous"] is not None) == (offset > 0)


def test_a_first_page_that_holds_every_row_needs_no_count_query(listing):
    _, short = listing(limit=100)
    _, full = listing(limit=3)
    _, later = listing(limit=5, offset=5)
    _, past_the_end = listing(limit=3, offset=50)

    def counts(sqls: list[str]) -> int:
        return sum("COUNT(" in sql.upper() for sql in sqls)

    assert counts(short) == 0
    assert (counts(full), counts(later), counts(past_the_end)) == (1, 1, 1)


def test_an_offset_past_what_the_database_counts_to_is_an_empty_page(listing):
    """Fuzzing found it: an offset beyond 2**63 reached SQL as OFFSET n (a 500 on PostgreSQL)."""
    body, sqls = listing(limit=5, offset=10233615964378761265152)

    assert (body["count"], body["results"]) == (ROWS, [])
    assert not any("OFFSET 10233615964378761265152" in sql for sql in sqls)
