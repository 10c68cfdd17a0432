"""REST API routers (SPEC section 5), one file per resource."""
