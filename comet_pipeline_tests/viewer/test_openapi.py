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
        "/api/frames",
        "/api/frames/{name}",
        "/api/health",
        "/api/jobs",
        "/api/jobs/{run_id}/terminate",
        "/api/slots",
        "/products/candidates/{candidate_id}/cutout",
        "/products/{name}/{product}",
    ]
    frames = doc["paths"]["/api/frames"]["get"]
    assert [p["name"] for p in frames["parameters"]] == [
        "detector",
        "since",
        "until",
        "limit",
        "cursor",
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
