"""Saving and loading: round trip, corrupted/tampered files, untrusted types, mismatches, and
the saved-model fixtures of earlier versions."""

from __future__ import annotations

import collections
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

import journeymine as jm
from journeymine.assignment import TRUSTED_TYPES, PersonaModel, assign, assign_many, load_model
from journeymine.exceptions import ConfigError, ModelError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"


def copy_model(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / src.name
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


def edit_card(path: Path, **changes: object) -> None:
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    for key, value in changes.items():
        card[key] = value
    card_path.write_text(json.dumps(card))


def test_round_trip(model: PersonaModel, saved_model: Path, log: pd.DataFrame) -> None:
    loaded = load_model(saved_model)
    pd.testing.assert_frame_equal(loaded.predict_proba(log), model.predict_proba(log), rtol=0)
    pd.testing.assert_frame_equal(assign_many(log, loaded), assign_many(log, model))
    assert loaded.persona_names_ == model.persona_names_
    assert loaded.bucket_edges_ == model.bucket_edges_
    card = json.loads(saved_model.with_suffix(".json").read_text())
    assert card["artifact"]["file"] == saved_model.name
    assert card["artifact"]["bytes"] == saved_model.stat().st_size
    assert set(card["artifact"]["untrusted_types"]) <= TRUSTED_TYPES
    assert card["model"]["abstain_threshold"] == model.abstain_threshold
    assert loaded.get_params()["calibration"] == model.calibration


def test_save_refuses_bad_paths(model: PersonaModel, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.json"):
        model.save(tmp_path / "model.json")
    with pytest.raises(ConfigError, match="does not exist"):
        model.save(tmp_path / "no" / "such" / "model.skops")


def test_corrupted_file_is_refused(saved_model: Path, tmp_path: Path) -> None:
    path = copy_model(saved_model, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ModelError, match=r"checksum mismatch.*corrupted"):
        load_model(path)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ModelError, match="checksum mismatch"):
        load_model(path)
    # garbage whose checksum was written into the card: still refused, as unreadable
    artifact = json.loads(path.with_suffix(".json").read_text())["artifact"]
    edit_card(
        path, artifact={**artifact, "sha256": hashlib.sha256(b"not a zip at all").hexdigest()}
    )
    with pytest.raises(ModelError, match="not a readable skops file"):
        load_model(path)


def test_tampered_file_is_refused(model: PersonaModel, saved_model: Path, tmp_path: Path) -> None:
    path = copy_model(saved_model, tmp_path)
    estimators = sio.loads(path.read_bytes(), trusted=sorted(TRUSTED_TYPES))
    logreg = estimators[-1].calibrated_classifiers_[0].estimator[-1]
    logreg.coef_[0, 0] += 5.0  # a changed weight: a valid skops file, different content
    path.write_bytes(sio.dumps(estimators, compression=zipfile.ZIP_DEFLATED))
    with pytest.raises(ModelError, match=r"checksum mismatch.*modified after saving"):
        load_model(path)


def test_untrusted_type_is_refused_even_with_a_matching_card(
    model: PersonaModel, saved_model: Path, tmp_path: Path
) -> None:
    """A crafted file holding a type outside the allowlist, with a card rewritten to match
    (checksum and declared types): the allowlist still refuses it."""
    path = copy_model(saved_model, tmp_path)
    crafted = [*model.estimators_, collections.Counter(a=1)]
    data = sio.dumps(crafted)
    extra = sorted(sio.get_untrusted_types(data=data))
    assert set(extra) - TRUSTED_TYPES  # the Counter really is untrusted
    path.write_bytes(data)
    card = json.loads(path.with_suffix(".json").read_text())
    card["artifact"].update(sha256=hashlib.sha256(data).hexdigest(), untrusted_types=extra)
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"outside the allowlist.*collections.Counter"):
        load_model(path)


def test_save_refuses_what_load_would_refuse(model: PersonaModel, tmp_path: Path) -> None:
    import copy

    bad = copy.copy(model)
    bad.estimators_ = [*model.estimators_, collections.Counter(a=1)]
    bad.card_ = dict(model.card_)
    with pytest.raises(ModelError, match="would refuse"):
        bad.save(tmp_path / "bad.skops")
    assert not (tmp_path / "bad.skops").exists()


def test_other_schema_features_and_versions_are_named(saved_model: Path, tmp_path: Path) -> None:
    path = copy_model(saved_model, tmp_path)
    original = json.loads(path.with_suffix(".json").read_text())

    def reset() -> None:
        path.with_suffix(".json").write_text(json.dumps(original))

    schema = {**original["schema"], "columns": [*original["schema"]["columns"], "store_id"]}
    edit_card(path, schema=schema)
    with pytest.raises(ModelError, match=r"schema mismatch.*columns"):
        load_model(path)
    reset()
    edit_card(path, schema={**original["schema"], "version": 0})
    with pytest.raises(ModelError, match=r"schema mismatch \(version: model 0, now 1\)"):
        load_model(path)
    reset()
    names = [*original["feature_names"][1:], "brand_new_feature"]
    edit_card(path, feature_names=names)
    with pytest.raises(ModelError, match=r"feature names mismatch.*brand_new_feature"):
        load_model(path)
    reset()
    spec = {**original["feature_spec"], "channels": [*original["feature_spec"]["channels"], "tv"]}
    edit_card(path, feature_spec=spec)
    with pytest.raises(ModelError, match=r"feature names mismatch.*channel_share:tv"):
        load_model(path)
    reset()
    edit_card(path, journeymine_version="1.4.0")
    with pytest.raises(ModelError, match=r"major version mismatch.*1.4.0"):
        load_model(path)
    reset()
    edit_card(path, format_version=99)
    with pytest.raises(ModelError, match="newer than this journeymine reads"):
        load_model(path)
    reset()
    edit_card(path, kind="something.else")
    with pytest.raises(ModelError, match="not a journeymine PersonaModel card"):
        load_model(path)
    reset()
    assert load_model(path).classes_.size > 1  # the untouched pair still loads


def test_missing_or_broken_card(saved_model: Path, tmp_path: Path) -> None:
    path = copy_model(saved_model, tmp_path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match=r"card .* does not exist"):
        load_model(path)
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.skops")


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("persona_model_v*.skops"))


def test_there_is_a_fixture_of_this_version() -> None:
    assert FIXTURES / f"persona_model_v{jm.__version__}.skops" in fixture_files(), (
        "no saved-model fixture for this version: run tests/fixtures/models/make_fixture.py"
    )


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.stem)
def test_saved_fixtures_of_this_major_version_load(path: Path) -> None:
    version = path.stem.removeprefix("persona_model_v")
    if version.split(".")[0] != jm.__version__.split(".")[0]:
        with pytest.raises(ModelError, match="major version"):
            load_model(path)
        return
    model = load_model(path)
    expected = json.loads(path.with_name(f"{path.stem}.expected.json").read_text())
    for c in expected["customers"]:
        got = assign(c["events"], model, customer_id=c["customer_id"]).to_dict()
        want = c["expected"]
        assert got["persona"] == want["persona"], c["customer_id"]
        assert got["name"] == want["name"]
        assert got["n_events"] == want["n_events"]
        np.testing.assert_allclose(got["probability"], want["probability"], rtol=0, atol=1e-9)


def test_spec_with_aggregates_this_version_lacks_is_refused(
    saved_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model whose features need an aggregate the numpy path does not implement (a newer
    journeymine's) is refused at load time, naming the file, not at the first assign."""
    from journeymine.personas import _aggregates

    monkeypatch.setattr(_aggregates, "_SCALARS", _aggregates._SCALARS[:-1])
    with pytest.raises(ModelError, match=rf"{saved_model.name}.*do not know"):
        load_model(saved_model)
