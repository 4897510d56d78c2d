"""``python -m breedbench`` runs the CLI."""

from breedbench.cli import main

main()
