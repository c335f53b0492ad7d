"""The OpenAPI document lists every endpoint, and its error bodies are the Problem model."""

from __future__ import annotations


def test_the_openapi_document_lists_the_endpoints(viewer):
    reply = viewer.get("/openapi.json")
    assert reply.status_code == 200
    doc = reply.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "comet_pipeline viewer"
    assert sorted(doc["paths"]) == [
        "/api/candidates",
        "/api/candidates/{candidate_id}",
        "/api/candidates/{candidate_id}/status",
        "/api/composites",
        "/api/featured",
        "/api/frames",
        "/api/frames/{name}",
        "/api/health",
        "/api/jobs",
        "/api/jobs/{run_id}/terminate",
        "/api/mosaics",
        "/api/product-days",
        "/api/slots",
        "/products/candidates/{candidate_id}/cutout",
        "/products/composites/{kind}/{day}/{file}",
        "/products/featured/{detector}/{file}",
        "/products/mosaics/daily/{file}",
        "/products/mosaics/hourly/{day}/{file}",
        "/products/{name}/{product}",
    ]
    frames = doc["paths"]["/api/frames"]["get"]
    assert [p["name"] for p in frames["parameters"]] == [
        "detector",
        "since",
        "until",
        "limit",
        "cursor",
        "order",
    ]
    assert frames["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FramePage"
    }
    for code in ("400", "404", "422", "503"):
        assert frames["responses"][code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_the_docs_page_is_served(viewer):
    reply = viewer.get("/docs")
    assert reply.status_code == 200 and "swagger-ui" in reply.text


def test_the_openapi_document_validates_against_the_openapi_3_1_schema(viewer):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    doc = viewer.get("/openapi.json").json()
    validate(doc)  # raises on the first violation
    broken = doc | {"paths": {"/api/x": {"get": {"responses": {"200": {"content": 5}}}}}}
    try:
        validate(broken)
    except OpenAPIValidationError:
        pass
    else:  # the validator must be able to fail, or the line above proves nothing
        raise AssertionError("a broken document passed validation")
    security = doc["components"]["securitySchemes"]
    assert security == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "a token from `comet-pipeline token create`",
        }
    }
    status = doc["paths"]["/api/candidates/{candidate_id}/status"]["post"]
    assert status["security"] == [{"HTTPBearer": []}]
    assert status["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


def test_only_the_writes_are_documented_as_needing_a_token(viewer):
    doc = viewer.get("/openapi.json").json()
    secured = sorted(
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if op.get("security")
    )
    assert secured == [
        "POST /api/candidates/{candidate_id}/status",
        "POST /api/jobs/{run_id}/terminate",
    ]


def test_every_response_says_nosniff_and_carries_the_content_security_policy(viewer):
    for path in ("/", "/api/health", "/api/frames?detector=c3", "/api/frames/nope"):
        reply = viewer.get(path)
        assert reply.headers["x-content-type-options"] == "nosniff", path
        policy = reply.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
    assert "content-security-policy" not in viewer.get("/docs").headers  # Swagger UI's CDN
