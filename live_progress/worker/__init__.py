"""The Celery worker: runs every plugin's tasks, with heartbeats, durable cancels, the SIGTERM hand-over and metrics."""
