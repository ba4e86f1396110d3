"""The OpenAPI document and the offline documentation page."""

from __future__ import annotations

import re
from pathlib import Path

from scamshare.auth import ROLE_MATRIX

ROLE_COLUMNS = ("regulator", "law_enforcement", "operator", "peer_node", "admin")


def test_openapi_document_describes_every_api_route_with_security_and_errors(app, client):
    """Each route is in the document with its security and a problem-details error response."""
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "permission"):
            continue
        path = rule.rule.replace("<string:", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented
            operation = spec["paths"][path][method.lower()]
            assert "security" not in operation or operation["security"]
            default = operation["responses"]["default"]["$ref"].split("/")[-1]
            content = spec["components"]["responses"][default]["content"]
            assert "application/problem+json" in content
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_the_submission_documents_its_query_and_its_idempotency_header(client):
    """A client generated from the document can send atomic and an Idempotency-Key."""
    path = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/reports"]
    parameters = path.get("parameters", []) + path["post"].get("parameters", [])
    assert {(p["in"], p["name"]) for p in parameters} == {
        ("query", "atomic"),
        ("header", "Idempotency-Key"),
    }


def test_docs_page_is_served_from_installed_files(client):
    """The documentation page loads Swagger UI from this node, not from a CDN."""
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "unpkg" not in html and "jsdelivr" not in html
    script = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert b"SwaggerUIBundle" in script.data
    script.close()


def readme_matrix() -> dict[str, list[str]]:
    """The README's role matrix: each permission's cells (roles' marks, then endpoints)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- role-matrix -->")[1].split("<!-- /role-matrix -->")[0]
    rows = {}
    for line in table.splitlines():
        if line.startswith("| `") and "` |" in line:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_readme_role_matrix_is_the_code_matrix():
    """The README's role matrix lists exactly the permissions and roles the code enforces."""
    rows = {
        permission: {
            role for role, mark in zip(ROLE_COLUMNS, cells[:5], strict=True) if mark == "yes"
        }
        for permission, cells in readme_matrix().items()
    }
    assert rows == {permission: set(roles) for permission, roles in ROLE_MATRIX.items()}


def test_readme_role_matrix_names_every_endpoint_under_its_permission(app):
    """Each endpoint that needs a key is listed in the row of the permission it requires."""
    listed = set()
    for permission, cells in readme_matrix().items():
        for methods, path in re.findall(r"`([A-Z/]+) (/[^`]*)`", cells[5]):
            listed.update((permission, method, path) for method in methods.split("/"))
    required = set()
    for rule in app.url_map.iter_rules():
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        if permission is not None:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            required.update(
                (permission, method, path) for method in rule.methods - {"HEAD", "OPTIONS"}
            )
    assert required - listed == set()
