"""API-wide error handling: every refusal is a 4xx with a message, never a 500.

DRF answers its own exceptions; this adds the database's refusals that reach a
view past the serializer (a protected row on delete, a constraint that a
concurrent writer won), and Django's ValidationError from model `clean()`.
`not_found` answers an address under /api/ that no route matches (an id that
is not a number) in JSON too, as the schema says every 404 is, and
`bad_request` the requests Django itself refuses before any view (a body over
DATA_UPLOAD_MAX_MEMORY_SIZE, too many form fields). `Pagination` caps the page
size the client may ask for and counts only when the page cannot tell the
count itself.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request as django_bad_request
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
        if isinstance(exc, ValidationError):
            response.data = _shortened(response.data)
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


# DRF quotes what was sent in some messages ('"<input>" is not a valid choice.'); a
# megabyte sent is not worth a megabyte back. Longer messages keep their two ends.
LONGEST_MESSAGE = 300


def _shortened(data):
    if isinstance(data, dict):
        return {key: _shortened(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_shortened(value) for value in data]
    if isinstance(data, str) and len(data) > LONGEST_MESSAGE:
        return type(data)(f"{data[:60]}…{data[-60:]}", code=getattr(data, "code", None))
    return data


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler400`: JSON under /api/ saying what was refused, Django's page elsewhere."""
    if not request.path.startswith("/api/"):
        return django_bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        megabytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024
        detail = f"The request body is larger than the {megabytes:g} MB this API accepts."
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        detail = "The request has more fields than this API accepts."
    else:
        detail = "Bad request."
    return JsonResponse({"detail": detail}, status=400)


class Pagination(LimitOffsetPagination):
    """DRF's limit and offset, with a largest page: a `limit` past 2**63 - 1 reached the database
    as `LIMIT n`, which SQLite refused with an integrity error and PostgreSQL with a data error."""

    max_limit = 1000

    def paginate_queryset(self, queryset, request, view=None) -> list | None:
        """On the first page, the page first: a first page shorter than the limit holds every row,
        so it gives the count without a `COUNT(*)` (most lists fit one page, and the count query
        cost as much as the page's). Later pages count first, as DRF does, so that an offset past
        the end (or past what the database can count to) reads nothing."""
        self.limit = self.get_limit(request)
        if self.limit is None or self.get_offset(request):
            return super().paginate_queryset(queryset, request, view)
        self.request, self.offset = request, 0
        page = list(queryset[: self.limit])
        self.count = len(page) if len(page) < self.limit else self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return page
