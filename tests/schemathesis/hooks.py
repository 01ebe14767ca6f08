"""Schemathesis hooks for safequiz: the error envelope check.

Loaded by `tests/schemathesis/run` (SCHEMATHESIS_HOOKS). Every 4xx and 5xx the service answers
must be the JSON envelope `{"error": code, "message": text, "request_id": id}` with a code from
the document's list (`ErrorBody.error`), whatever the operation: schemathesis' own
`response_schema_conformance` only checks the responses the document declares, so an error
answered by an extractor or a middleware in another shape would slip through it.
"""

import json

import schemathesis

_CODES = None


def _codes(case):
    """The stable error codes the document lists (`components.schemas.ErrorBody`)."""
    global _CODES
    if _CODES is None:
        raw = case.operation.schema.raw_schema
        _CODES = set(raw["components"]["schemas"]["ErrorBody"]["properties"]["error"]["enum"])
    return _CODES


@schemathesis.check
def error_is_json_envelope(ctx, response, case):
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), (
        f"error {response.status_code} is not JSON: Content-Type {content_type!r}"
    )
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"error {response.status_code} body is not JSON: {error}") from None
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert isinstance(body.get("error"), str), f"no `error` code: {body!r}"
    assert isinstance(body.get("message"), str) and body["message"], f"no `message`: {body!r}"
    assert isinstance(body.get("request_id"), str) and body["request_id"], (
        f"no `request_id`: {body!r}"
    )
    request_id = (response.headers.get("x-request-id") or [""])[0]
    assert body["request_id"] == request_id, (
        f"`request_id` {body['request_id']!r} differs from X-Request-Id {request_id!r}"
    )
    assert body["error"] in _codes(case), f"unknown error code {body['error']!r}"
    return None
