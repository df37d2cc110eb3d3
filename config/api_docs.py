"""Error responses in the OpenAPI schema, so that it is honest about what the
API answers besides success (drf-spectacular documents only the success)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

Detail = inline_serializer("Detail", fields={"detail": serializers.CharField()})
FIELD_ERRORS = OpenApiResponse(
    response={"type": "object", "additionalProperties": True},
    description="Field errors: each field name maps to a list of messages; "
    "`non_field_errors` or `detail` holds the rest.",
)
ERRORS = {
    "400": FIELD_ERRORS,
    "401": OpenApiResponse(Detail, description="Not authenticated."),
    "403": OpenApiResponse(Detail, description="The role does not allow this."),
    "404": OpenApiResponse(Detail, description="Not found, or not visible to this user."),
    "405": OpenApiResponse(Detail, description="Method not allowed."),
    "409": OpenApiResponse(Detail, description="Conflicts with existing data; nothing was changed."),
    "429": OpenApiResponse(Detail, description="Too many requests; try again later."),
}


class ChairsideAutoSchema(AutoSchema):
    """Adds the error responses every operation can give to the success ones.

    Every operation can answer 400 (bad query parameters or body), 401 and 403;
    one on a single object or a write adds 404 and 409. A view adds others
    (429 on the token endpoint) with `extra_error_codes`.
    """

    def _get_response_bodies(self, direction: str = "response") -> dict:
        bodies = super()._get_response_bodies(direction)
        codes = ["400", "401", "403"]
        if "{" in self.path or self.method != "GET":
            codes += ["404", "409"]
        codes += list(getattr(self.view, "extra_error_codes", ()))
        for code in codes:
            bodies.setdefault(code, self._get_response_for_code(ERRORS[code], code, direction=direction))
        return bodies
