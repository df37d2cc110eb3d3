"""API-wide error handling: every refusal is a 4xx with a message, never a 500.

DRF answers its own exceptions; this adds the database's refusals that reach a
view past the serializer (a protected row on delete, a constraint that a
concurrent writer won), and Django's ValidationError from model `clean()`.
`not_found` answers an address under /api/ that no route matches (an id that
is not a number) in JSON too, as the schema says every 404 is. `Pagination`
caps the page size the client may ask for.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, ProtectedError | RestrictedError):
        return Response(
            {"detail": "This record is still referred to by other records and cannot be deleted."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, IntegrityError):
        # The constraint name says which invariant held; the message itself
        # may echo row values, so it is logged, not returned.
        logger.info("Integrity error answered with 409: %s", type(exc).__name__)
        return Response(
            {"detail": "The change conflicts with existing data and was not saved."},
            status=status.HTTP_409_CONFLICT,
        )
    return None


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


class Pagination(LimitOffsetPagination):
    """DRF's limit and offset, with a largest page: a `limit` past 2**63 - 1 reached the database
    as `LIMIT n`, which SQLite refused with an integrity error and PostgreSQL with a data error."""

    max_limit = 1000
