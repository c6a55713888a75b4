"""Agent hooks: automations that fire on file and agent events.

Hook files live in ``.kiro/hooks/``, in Kiro's two formats (``*.kiro.hook`` and v1
``*.json``); both load into one model (``specloom.hooks.model``). The pieces:

* ``HookBus`` (``bus``): loads a project's hooks and dispatches ``HookEvent``s to them;
  the agent loop and the task scheduler call ``await bus.dispatch(event)`` and get a
  ``HookOutcome`` (blocked or not, why, context for the agent, the runs);
* ``HookedToolset``, ``with_hooks`` (``toolset``): ``preToolUse``/``postToolUse`` around an
  agent's pydantic-ai toolsets;
* ``load_hooks``, ``find_hook``, ``set_enabled`` (``loader``): reading and editing hook files;
* ``watch`` (``watcher``): the file-event loop behind ``specloom watch``;
* ``TEMPLATES``, ``add_template`` (``templates``): ready-made hooks;
* ``draft_hook`` (``authoring``): a hook file from a sentence;
* ``scan_files``, ``scan_staged`` (``secrets``): the secret scanner the templates run.

The names below are imported on first use, so ``python -m specloom.hooks.secrets`` (run for
every save by the secret-scan hook) does not load the bus and the policy.

May import: the ``specloom.hooks`` modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from specloom.hooks.bus import AskAgentMode, HookBus, RunListener
    from specloom.hooks.editing import set_enabled
    from specloom.hooks.loader import HookSet, find_hook, load_hooks
    from specloom.hooks.model import (
        Action,
        EventKind,
        Hook,
        HookEvent,
        HookOutcome,
        HookRun,
    )
    from specloom.hooks.templates import TEMPLATES, add_template
    from specloom.hooks.toolset import HookedToolset, with_hooks
    from specloom.hooks.watcher import WatchOptions, watch

__all__ = [
    "TEMPLATES",
    "Action",
    "AskAgentMode",
    "EventKind",
    "Hook",
    "HookBus",
    "HookEvent",
    "HookOutcome",
    "HookRun",
    "HookSet",
    "HookedToolset",
    "RunListener",
    "WatchOptions",
    "add_template",
    "find_hook",
    "load_hooks",
    "set_enabled",
    "watch",
    "with_hooks",
]

_WHERE = {
    "AskAgentMode": "bus",
    "HookBus": "bus",
    "RunListener": "bus",
    "HookSet": "loader",
    "find_hook": "loader",
    "load_hooks": "loader",
    "set_enabled": "editing",
    "Action": "model",
    "EventKind": "model",
    "Hook": "model",
    "HookEvent": "model",
    "HookOutcome": "model",
    "HookRun": "model",
    "TEMPLATES": "templates",
    "add_template": "templates",
    "HookedToolset": "toolset",
    "with_hooks": "toolset",
    "WatchOptions": "watcher",
    "watch": "watcher",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'specloom.hooks' has no attribute {name!r}")
    return getattr(importlib.import_module(f"specloom.hooks.{module}"), name)
