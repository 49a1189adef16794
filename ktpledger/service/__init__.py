"""Service layer: append, project, reconcile; every entry point calls these functions."""
