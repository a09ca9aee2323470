"""EditSeq language server: pyflakes diagnostics, validated next-edit code actions, inline completion, commands.

Run it with ``python -m lsp_server`` (stdio) or ``python -m lsp_server --tcp HOST:PORT``; ``editseq serve`` does
the same. The model is loaded lazily in the background; everything that touches it runs off the event loop.
"""

SERVER_NAME = "editseq"
__version__ = "0.1.0"
