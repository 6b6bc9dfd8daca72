"""``live-progress``: submit a folder to the service and follow it in the terminal."""
