"""The OpenAPI page, served whole by the gateway: Swagger UI's script, stylesheet and favicon
come from the swagger-ui-bundle-v2 package (Swagger UI 5; FastAPI's documented self-hosting),
not from a CDN.
On a clinic's offline network the page still works, and no visit tells a third party.
ReDoc (fonts and script from CDNs) is not served. A Content-Security-Policy keeps every later
change to the page on the gateway's own origin too."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"
# Swagger UI starts itself with an inline script; everything it loads is same-origin.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}


def install(app: FastAPI) -> None:
    """For an app made with docs_url=None and redoc_url=None."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # No badge fetched from the public online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers.update(HEADERS)
        return page

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers.update(HEADERS)
        return page
