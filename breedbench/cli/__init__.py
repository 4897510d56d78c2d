"""The ``breedbench`` command: one Typer app; each stage registers its subcommands here.

Reading ``register`` calls top to bottom is reading the data path:
crawl → store → review → evaluate → report.
"""

from __future__ import annotations

import typer

from breedbench.cli import (
    app_cmds,
    assist_cmds,
    compress_cmds,
    crawl_cmds,
    eval_cmds,
    export_cmds,
    quality_cmds,
    quiet,
    review_cmds,
    setup_cmds,
    suspects_cmds,
)
from breedbench.cli.common import (
    DataDirOption,
    DbOption,
    VerboseOption,
    make_settings,
    new_app,
)

app = new_app(
    "breedbench: build an unseen, human-verified dog-breed test set and measure every model "
    "version on it."
)


@app.callback()
def _global(
    ctx: typer.Context,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    verbose: VerboseOption = False,
) -> None:
    quiet.configure(verbose)  # first: no subcommand has imported TensorFlow yet
    ctx.obj = make_settings(db, data_dir)


setup_cmds.register(app)
app_cmds.register(app)
review_cmds.register(app)
# Each stage adds its commands below (one register call per module).
crawl_cmds.register(app)
export_cmds.register(app)
compress_cmds.register(app)
eval_cmds.register(app)
suspects_cmds.register(app)
quality_cmds.register(app)
assist_cmds.register(app)


def main() -> None:
    app()
