"""``specloom models ...``: list, check, pull and serve models.

Thin like every command module: each command calls one function of ``specloom.llm``. The
model layer (pydantic-ai, provider SDKs, llama.cpp) loads inside the commands only.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the commands,
``specloom.llm`` and ``specloom.settings``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.output import emit_json, print_table, say

__all__ = ["BudgetOption", "ModelOption", "models_app"]

models_app = typer.Typer(
    name="models",
    help="The model catalog: list models, check one, install or serve the embedded model.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="`auto` (default), a catalog id, <provider>:<model>, or "
        "py:<module-or-file.py>:<attribute> for a custom pydantic-ai model.",
    ),
]
BudgetOption = Annotated[
    str | None,
    typer.Option(
        "--budget",
        help='Spending caps for this run: "$5", "100cr", "day:$20" (comma-separated).',
    ),
]
RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="Project root (default: found from the current folder)."),
]


def _price(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"${value:g}"


@models_app.command("list")
@handles_errors
def list_command(root: RootOption = None, as_json: JsonOption = False) -> None:
    """Every model with provider, credit multiplier, prices and whether it is usable now."""
    from specloom.llm.catalog import Catalog
    from specloom.llm.providers import availability
    from specloom.llm.session import project_root_or_none
    from specloom.settings import load_settings

    settings = load_settings(project_root_or_none(root))
    catalog = Catalog.load(settings)
    rows: list[dict[str, object]] = []
    for entry in catalog:
        state = availability(entry, settings)
        data = entry.to_dict()
        data.update(available=state.available, reason=state.reason)
        rows.append(data)
    if as_json:
        emit_json(rows)
        return
    table: list[list[object]] = []
    for row in rows:
        prices = row["prices"]
        assert isinstance(prices, dict)
        table.append(
            [
                row["id"],
                row["provider"],
                f"{row['credit_multiplier']:g}x",
                _price(prices["input_per_mtok"]),
                _price(prices["output_per_mtok"]),
                _price(prices["cached_input_per_mtok"]),
                f"{row['context_window']:,}" if row["context_window"] else "",
                "yes" if row["available"] else f"no: {row['reason']}",
            ]
        )
    print_table(
        "Models (prices in USD per million tokens)",
        ["id", "provider", "credits", "input", "output", "cached", "context", "usable"],
        table,
    )


@models_app.command("check")
@handles_errors
def check_command(
    model_id: Annotated[str, typer.Argument(help="A catalog id, `auto`, or py:...")],
    root: RootOption = None,
    budget: BudgetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load a model, make one structured-output request and one tool call, and report."""
    import anyio

    from specloom.llm.check import check_model
    from specloom.llm.session import open_model_session

    session = open_model_session(
        command="models check", model=model_id, kind="summary", budget=budget, root=root
    )
    report = anyio.run(check_model, model_id, session.model, session.recorder)
    if as_json:
        data = report.to_dict()
        data["spent"] = session.spent()
        emit_json(data)
    else:
        say(f"model: {model_id} (answered by: {', '.join(report.answered_by) or 'none'})")
        print_table(
            None,
            ["probe", "ok", "latency", "tokens in/out", "detail"],
            [
                [
                    probe.name,
                    "yes" if probe.ok else "NO",
                    f"{probe.latency_s:.2f} s",
                    f"{probe.input_tokens}/{probe.output_tokens}",
                    probe.detail,
                ]
                for probe in report.probes
            ],
        )
        spent = session.spent()
        say(f"spent: ${spent['cost_usd']:.4f}, {spent['credits']:.2f} credits")
    if not report.ok:
        raise typer.Exit(1)


@models_app.command("pull")
@handles_errors
def pull_command(
    model_id: Annotated[str, typer.Argument(help="`local` (1.5B) or `local-0.5b`.")] = "local",
    as_json: JsonOption = False,
) -> None:
    """Install the embedded model's weights into the user cache (once; verified by sha256)."""
    from specloom.errors import UsageError
    from specloom.llm.local.weights import pull

    variants = {"local": "1.5b", "local-0.5b": "0.5b"}
    if model_id not in variants:
        raise UsageError(f"cannot pull {model_id!r}", hint="Use `local` or `local-0.5b`.")
    path = pull(variants[model_id], progress=None if as_json else say)
    if as_json:
        emit_json({"model": model_id, "path": str(path)})
    else:
        say(f"{model_id}: {path}")


@models_app.command("serve-local")
@handles_errors
def serve_local_command(
    model_id: Annotated[str, typer.Argument(help="`local` (1.5B) or `local-0.5b`.")] = "local",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
) -> None:
    """Serve the embedded model OpenAI-style on loopback, so processes share one copy.

    Point other specloom processes at it with SPECLOOM_LOCAL_URL=http://127.0.0.1:PORT/v1.
    """
    from specloom.errors import UsageError
    from specloom.llm.local.engine import get_engine
    from specloom.llm.local.server import serve
    from specloom.llm.local.weights import resolve_weights

    variants = {"local": "1.5b", "local-0.5b": "0.5b"}
    if model_id not in variants:
        raise UsageError(f"cannot serve {model_id!r}", hint="Use `local` or `local-0.5b`.")
    engine = get_engine(resolve_weights(variants[model_id]))

    def ready(url: str) -> None:
        say(f"serving {model_id} at {url}")
        sys.stdout.flush()  # a supervisor reading a pipe waits for this line

    serve(engine, host=host, port=port, ready=ready)
