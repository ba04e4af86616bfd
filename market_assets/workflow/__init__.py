"""Plain orchestration the Dagster assets call once per partition (no dagster here).

:mod:`.training` trains one model period (frame → fit → evaluate → champion
decision); :mod:`.prediction` scores sessions with the champion trained
before each of them.  Both use the pure layer (:mod:`market_assets.quant`)
and the tracking layer (:mod:`market_assets.tracking`), never dagster, so
they run the same from a notebook, a script or an asset.
"""
