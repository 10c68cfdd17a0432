"""FastAPI app: REST API, pages and templates (issues 3 and 4)."""
