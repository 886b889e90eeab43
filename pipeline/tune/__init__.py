"""Hyper-parameter sweeps on Optuna: a space declared in params.yaml (`tune:`), trials scored by
the pipelines' own code, any number of workers sharing one study through a relational storage
(SQLite on one machine, PostgreSQL for a team), every trial one MLflow run. See docs/tune.md."""
