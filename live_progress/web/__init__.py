"""The web service: submits tasks, answers polls and streams progress over SSE."""
