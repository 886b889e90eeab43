"""dvc.yaml's competition blocks are the template's: one stage block per competition in params.yaml."""

from __future__ import annotations

import yaml

from pipeline import REPO_ROOT
from pipeline.params import load_params
from pipeline.tabular.paths import stage_stem
from pipeline.tabular.stage_block import render


def test_every_competition_has_the_templates_stage_block():
    text = (REPO_ROOT / "dvc.yaml").read_text()
    for key, block in load_params()["competitions"].items():
        expected = render(key, block["features"].get("module", ""))
        assert expected in text, f"dvc.yaml's {key} block differs from stage_block.render({key!r}); regenerate it"


def test_a_block_defines_the_five_stages_with_the_competitions_paths():
    stages = yaml.safe_load("stages:\n" + render("some-comp", "extra"))["stages"]
    stem = stage_stem("some-comp")
    assert list(stages) == [f"{stem}_{s}" for s in ("download", "preprocess", "train", "blend", "submission")]
    assert stages[f"{stem}_train"]["foreach"] == "${competitions.some-comp.blend.models}"
    assert "pipeline/competitions/extra.py" in stages[f"{stem}_preprocess"]["deps"]
    assert stages[f"{stem}_submission"]["outs"] == ["data/submissions/some-comp.csv"]
    assert "competitions.some-comp.models.${item}" in stages[f"{stem}_train"]["do"]["params"]


def test_every_param_a_block_names_exists_in_params_yaml():
    """DVC fails a stage whose params list names a key params.yaml lacks: the block must set all."""
    params = load_params()
    for key, block in params["competitions"].items():
        stages = yaml.safe_load("stages:\n" + render(key, block["features"].get("module", "")))["stages"]
        for stage in stages.values():
            for name in (stage.get("do") or stage).get("params", []):
                if "${" in name:
                    continue
                node = params
                for part in name.split("."):
                    assert isinstance(node, dict) and part in node, f"{name}: not in params.yaml"
                    node = node[part]


def test_a_competitions_stages_read_only_its_own_params():
    """Changing one competition's params reruns only its stages: no stage lists another's."""
    params = load_params()
    for key, block in params["competitions"].items():
        stages = yaml.safe_load("stages:\n" + render(key, block["features"].get("module", "")))["stages"]
        for name, stage in stages.items():
            listed = (stage.get("do") or stage).get("params", [])
            assert listed and all(p.startswith(f"competitions.{key}.") for p in listed), (name, listed)
