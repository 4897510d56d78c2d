"""``models add --trust-model``: a model that does more than compute gets in only on a person's
word, which the version records and the output says."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from db.models import Model, ModelVersion
from tests.cli.helpers import cli
from tests.fixtures.evaluation import EvalSet
from tests.modelkit import TinyModels, graph_with_ops


def test_trust_model_lets_a_refused_graph_in_and_is_recorded(
    eval_set: EvalSet, tiny_models: TinyModels, tmp_path: Path
) -> None:
    evil = graph_with_ops(tmp_path / "evil.pb", ["ReadFile", "WriteFile"])
    args = ["models", "add", evil, "--name", "e", "--version", "1"]
    spec = tmp_path / "evil.toml"
    spec.write_text('[input]\ntensor = "filename:0"\n[output]\ntensor = "read:0"\n')
    args += ["--preset", "inception-breeds-pb-jpeg", "--spec", spec]
    code, out = cli(eval_set, *args)
    assert code == 1
    said = " ".join(out.split())  # the console wraps long lines
    assert (
        'refused: op ReadFile (node "read") can read files; refused: op WriteFile (node '
        '"write") can write files; pass --trust-model to run it anyway'
    ) in said
    assert said.count("--trust-model") == 1  # what to do is said once, after every refusal
    code, out = cli(eval_set, *args, "--trust-model")
    assert code == 0, out
    assert 'trusted: op ReadFile (node "read") can read files' in out
    assert 'trusted: op WriteFile (node "write") can write files' in out
    said = " ".join(out.split())  # the console wraps long lines
    assert "Registered e:1" in said and "Trusted: its ops are not checked when it loads." in said
    code, out = cli(
        eval_set, "models", "add", tiny_models.classic_pb, "--name", "ok", "--version", "1",
        "--preset", "inception-breeds-pb", "--trust-model",
    )  # fmt: skip
    assert code == 0 and "trusted: " not in out  # nothing waived, nothing said
    code, out = cli(
        eval_set, "models", "add", tiny_models.batchable_pb, "--name", "plain", "--version", "1",
        "--preset", "inception-breeds-pb", "--spec", _batchable_spec(tmp_path, tiny_models),
    )  # fmt: skip
    assert code == 0, out
    with eval_set.db.session() as s:
        rows = s.execute(select(Model.name, ModelVersion.trusted).join(ModelVersion)).all()
    assert sorted(rows) == [("e", True), ("ok", True), ("plain", False)]


def _batchable_spec(tmp_path: Path, tiny: TinyModels) -> Path:
    path = tmp_path / "batchable.toml"
    path.write_text(
        '[input]\ntensor = "input:0"\nkind = "tensor"\n'
        f"size = [{tiny.size}, {tiny.size}]\nscale = 0.0078125\noffset = -1.0\n"
        '[output]\ntensor = "probs:0"\nactivation = "probabilities"\n'
        f'[labels]\nfile = "{tiny.labels_file}"\norder = "file"\n'
    )
    return path
