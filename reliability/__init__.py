"""imagegen's reliability suite: measured figures of what the project promises under stress.

Not a published package: the ``reliability`` nox session runs it
(``uvx nox -s reliability``, or ``uv run python -m reliability``), and the
fast tests in ``tests/reliability/`` run each section at small counts on every
Python and Pipecat the project supports. Each section is a module with one
``run_*`` function that returns :class:`~reliability.figures.Figure` s:

- :mod:`reliability.soak`: many prompts, many pipelines, every emulator fault;
- :mod:`reliability.interruptions`: the user interrupting at random moments;
- :mod:`reliability.bad_input`: named bad prompts, settings and provider
  replies through the Pipecat service and the CLI;
- :mod:`reliability.secrets`: a canary token searched for everywhere the
  other sections could have left it;
- :mod:`reliability.plugins`: each kind of broken plugin beside a good one.

See ``docs/reliability.md`` for what is promised and the figures of a run.
"""

__all__: list[str] = []
