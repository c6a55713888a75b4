"""``python -m specloom``: the same as the ``specloom`` command."""

from specloom.interfaces.cli import main

main()
