"""The benchmark suite's machinery: a fake Replicate, the clients compared, the meters.

Kept out of ``benchmarks/*.py`` (each of which the ``bench`` nox session runs)
and free of any imagegen import in the modules the old ``pipecat-replicate``
environment loads (:mod:`_bench.fake_api`, :mod:`_bench.meters`,
:mod:`_bench.minimal`, :mod:`_bench.old_service`), which has only Pipecat
0.0.108, aiohttp and Pillow.
"""
