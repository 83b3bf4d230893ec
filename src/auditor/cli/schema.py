"""``auditor schema``: write an editable pandera schema inferred from a data file.

Only typer is imported at module level (``auditor --help`` must stay instant); the error
handling of the main app is imported when the command runs, which also keeps this module
free of a circular import with ``auditor.cli.app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="schema",
    help="Write a data schema (pandera YAML) to declare with `auditor audit --schema`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.command("infer")
def infer(
    data: Annotated[Path, typer.Argument(help="The data (CSV or Parquet), usually the train set.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the YAML schema.")
    ] = Path("schema.yaml"),
) -> None:
    """Infer types, nullability, categories and non-negative columns; write them as YAML.

    The file is a starting point to review and edit: it never turns the sample's minimum
    and maximum into bounds. Validate data against it with `auditor audit --schema FILE`.
    """
    from auditor.cli.app import exits_cleanly

    exits_cleanly(_infer)(data, output)


def _infer(data: Path, output: Path) -> int:
    from auditor.io.atomic import write_atomic
    from auditor.io.tables import read_table
    from auditor.schemas import infer_schema, schema_to_yaml

    frame = read_table(data, source="DATA")
    schema = infer_schema(frame, description=f"Inferred by auditor from {data.name}.")
    header = (
        f"Data schema inferred by `auditor schema infer` from {data.name} "
        f"({len(frame):,} rows, {frame.shape[1]} columns).\n"
        "Review and edit it: tighten or widen `isin` categories, add `in_range` domains, set\n"
        "`nullable`. Validate data with `auditor audit --schema "
        f"{output.name}`. Format: pandera YAML."
    )
    write_atomic(output, schema_to_yaml(schema, header=header))
    typer.echo(f"Wrote {output} ({frame.shape[1]} columns)")
    return 0
