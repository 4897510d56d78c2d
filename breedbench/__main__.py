"""``python -m breedbench`` runs the CLI."""

from breedbench.cli import main

# Guarded: worker processes started with "spawn" import the main module again.
if __name__ == "__main__":
    main()
