"""Celery workers for ktpledger's projection, alert and notification tasks."""
