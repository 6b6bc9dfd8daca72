"""``live-progress``: submit a job to any endpoint of the service and follow it in the terminal."""
