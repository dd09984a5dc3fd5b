"""The stack's side of Docker: the run launcher named in dagster.yaml."""
