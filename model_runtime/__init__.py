"""Buffer + model -> validated insertion diffs. No editor and no training code lives here.

The edit-sequence format (``edits``) and the pyflakes check (``lint``) live in this package because both the
language server (validating proposals) and training (making data) need them.
"""

__version__ = "0.1.0"
