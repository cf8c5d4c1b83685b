"""Pipecat's function-calling schema classes, from wherever the installed release keeps them.

A bot that lets its LLM draw (a ``draw_image`` tool whose handler pushes the
prompt to the image service) describes the tool with ``FunctionSchema`` and
hands the LLM a ``ToolsSchema``. Pipecat 1.14 moved both from
``pipecat.adapters.schemas`` to ``pipecat.adapters.llm.schemas``; the old
path still works there but warns, and releases before 1.14 have only the old
one. These are Pipecat's own classes, re-exported unchanged so code that
must run on every supported release (imagegen's examples, a library's demo)
imports them once, from here. Found by trying the new path first, never by
version number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["FunctionSchema", "ToolsSchema"]

if TYPE_CHECKING:
    from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
    from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
else:
    try:  # Pipecat 1.14 and later
        from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
        from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
    except ImportError:  # earlier releases
        from pipecat.adapters.schemas.function_schema import FunctionSchema
        from pipecat.adapters.schemas.tools_schema import ToolsSchema
