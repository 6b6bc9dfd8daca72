"""The Celery worker: transcribes folders of audio and reports progress as it goes."""
