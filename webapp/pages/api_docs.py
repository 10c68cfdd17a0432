"""`/docs`: Swagger UI for the REST API, from the hub's own static files.

No CDN: hubs of GPU clusters are often air-gapped. The assets are swagger-ui-dist
from npm, vendored with the version in their names (webapp/static/vendor/, Apache-2.0,
licence beside them). Like every route, /docs needs a login; the static files are open.
"""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_UI_VERSION = "5.35.0"
_VENDOR = f"/static/vendor/swagger-ui-{SWAGGER_UI_VERSION}"
SWAGGER_JS = f"{_VENDOR}-bundle.js"
SWAGGER_CSS = f"{_VENDOR}.css"
SWAGGER_FAVICON = f"{_VENDOR}-favicon-32x32.png"

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    """The API's operations, rendered in the browser from /openapi.json."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="fleetwatch API", swagger_js_url=SWAGGER_JS,
                               swagger_css_url=SWAGGER_CSS, swagger_favicon_url=SWAGGER_FAVICON,
                               swagger_ui_parameters={"validatorUrl": None})  # never ask validator.swagger.io
