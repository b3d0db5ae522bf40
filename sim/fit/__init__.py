"""Fitting a motion to a CRM export (``revsim fit``) and back-testing it (``revsim backtest``).

One concept a module: ``io`` (reading, mapping, validation), ``presets`` (CRM
formats), ``events`` (stage episodes), ``stages`` (competing risks),
``arrivals``, ``acv``, ``churn``, ``uncertainty`` (bootstrap, curvature),
``fitter`` (all of it together), ``writer`` (the commented scenario,
``retention.csv``), ``api`` (what the command does), ``backtest``, ``report``
(the back-test page) and ``synthetic`` (a known company exported like a CRM).
"""
