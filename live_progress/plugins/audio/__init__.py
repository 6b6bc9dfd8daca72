"""The audio plugin: transcribes folders of audio with faster-whisper.

Its web half is ``endpoints`` (the ``plugin`` declared here, the entry point's target); its
worker half is ``worker/``, which only the worker imports.
"""

from live_progress.plugins.audio.endpoints import plugin

__all__ = ["plugin"]
