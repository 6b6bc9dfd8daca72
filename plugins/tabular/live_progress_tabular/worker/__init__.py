"""The tabular plugin's worker half: the Celery task (``tasks``) and the plain functions it
calls, which need scikit-learn, numpy and joblib. Only the worker imports it."""
