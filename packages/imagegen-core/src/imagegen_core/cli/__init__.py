"""The ``imagegen`` command: list backends, show a backend's settings, generate images.

:func:`main` is the console script. :func:`write_image` and
:func:`prompt_stem` are the command's way of naming and writing result files,
public so that scripts (the quick start among them) name files exactly as the
command does.
"""

from imagegen_core.cli._files import prompt_stem, write_image
from imagegen_core.cli._main import main

__all__ = ["main", "prompt_stem", "write_image"]
