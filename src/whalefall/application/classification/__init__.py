"""Classification use cases: classifications and rules CRUD, validate, explain, dry-run, auto-classify, assignments."""
