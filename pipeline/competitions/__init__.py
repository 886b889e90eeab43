"""Features modules of single competitions, named by `competitions.<name>.features.module`.

The generic preprocessing (`pipeline/tabular/features.py`) serves every competition; a module
here adds what only one data set needs (House Prices' Ames neighbourhoods and quality scales,
Titanic's titles and families) and follows the same interface: a `Params` dataclass, a
`Preprocessor` with `fit(rows, params)`, `transform(frame)`, `columns`, `notes`, `save(path)`,
`load(path)`, and optionally `outliers(train, target, params)`.
"""
