"""Storage: SQLModel tables, query functions and migrations (issue 3)."""
