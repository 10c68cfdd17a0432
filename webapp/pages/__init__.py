"""HTML pages (SPEC section 5, Web UI): one router per page, each returning its partial to htmx."""
