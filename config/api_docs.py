"""Error responses in the OpenAPI schema, so that it is honest about what the
API answers besides success (drf-spectacular documents only the success), and
times of day as the API sends them."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import append_meta
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
    "415": OpenApiResponse(Detail, description="The body is not JSON, a form or multipart."),
    "429": OpenApiResponse(Detail, description="Too many requests; try again later."),
}

# A wall-clock time of day in a center's or patient's zone ("09:00", "18:00:00"), with no UTC
# offset. JSON Schema's `time` format is RFC 3339's full-time, which requires an offset, so
# documenting these as `format: time` would describe every opening hour we send as invalid.
LOCAL_TIME = {
    "type": "string",
    "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
    "example": "09:00",
}


class ChairsideAutoSchema(AutoSchema):
    """Adds the error responses every operation can give to the success ones.

    Every operation can answer 400 (bad query parameters or body), 401 and 403;
    one on a single object or a write adds 404 and 409, one that reads a body
    415. A view adds others
    (429 on the token endpoint) with `extra_error_codes`. Times of day are
    `LOCAL_TIME`.
    """

    def _get_response_bodies(self, direction: str = "response") -> dict:
        bodies = super()._get_response_bodies(direction)
        codes = ["400", "401", "403"]
        if "{" in self.path or self.method != "GET":
            codes += ["404", "409"]
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes.append("415")
        codes += list(getattr(self.view, "extra_error_codes", ()))
        for code in codes:
            bodies.setdefault(code, self._get_response_for_code(ERRORS[code], code, direction=direction))
        return bodies

    def _map_serializer_field(self, field, direction: str, bypass_extensions: bool = False) -> dict:
        if isinstance(field, serializers.TimeField):
            return append_meta(dict(LOCAL_TIME), self._get_serializer_field_meta(field, direction))
        return super()._map_serializer_field(field, direction, bypass_extensions)
