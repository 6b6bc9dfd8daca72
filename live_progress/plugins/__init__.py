"""Plugins: the ones shipped here (``audio``), and how installed ones are found.

A plugin registers its ``Plugin`` under the entry-point group ``live_progress.plugins``
(docs/plugins.md); each is loaded by name, only when the PLUGINS setting lets it in.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points

from live_progress.plugin import Plugin

GROUP = "live_progress.plugins"


class PluginError(RuntimeError):
    """A plugin that cannot be found or loaded; the message names it."""


def installed() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=GROUP)}


def load_plugins(names: Sequence[str] | None = None) -> list[Plugin]:
    """The installed plugins (``names`` only, in that order, when given), each loaded."""
    found = installed()
    if names is None:
        names = sorted(found)
    unknown = [name for name in names if name not in found]
    if unknown:
        raise PluginError(
            f"PLUGINS names {', '.join(map(repr, unknown))}, which is not installed "
            f"(installed: {', '.join(sorted(found)) or 'none'})"
        )
    plugins = []
    for name in names:
        try:
            plugin = found[name].load()
        except Exception as exc:
            raise PluginError(f"Plugin {name!r} ({found[name].value}) failed to load: {exc!r}") from exc
        if not isinstance(plugin, Plugin):
            raise PluginError(f"Plugin {name!r} ({found[name].value}) is a {type(plugin).__name__}, not a Plugin")
        plugins.append(plugin)
    seen: dict[str, str] = {}
    for name, plugin in zip(names, plugins, strict=True):
        if plugin.name in seen:
            raise PluginError(f"Plugins {seen[plugin.name]!r} and {name!r} both declare the path /{plugin.name}")
        seen[plugin.name] = name
    return plugins


def worker_half(plugin: Plugin) -> object:
    """What ``plugin.worker`` names (``module:function``), imported."""
    if plugin.worker is None:
        raise PluginError(f"Plugin {plugin.name!r} declares no worker half")
    try:
        return pkgutil.resolve_name(plugin.worker)
    except Exception as exc:
        raise PluginError(f"Plugin {plugin.name!r}: its worker half {plugin.worker!r} failed to load: {exc!r}") from exc
