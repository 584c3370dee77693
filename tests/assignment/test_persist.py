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
    # the save/load pair of every journeymine model: PersonaModel.load is load_model
    again = PersonaModel.load(saved_model)
    assert type(again) is PersonaModel
    pd.testing.assert_frame_equal(again.predict_proba(log), loaded.predict_proba(log), rtol=0)


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
    from journeymine.features import aggregates as _aggregates

    monkeypatch.setattr(_aggregates, "_SCALARS", _aggregates._SCALARS[:-1])
    with pytest.raises(ModelError, match=rf"{saved_model.name}.*do not know"):
        load_model(saved_model)


# ---------------------------------------------------------------------------------------------
# the card: every behavioural field is checksummed (format 2) and checked for type and range
# ---------------------------------------------------------------------------------------------
FIX = r"save it again with model\.save\(path\).*retrain"


def test_card_changed_after_saving_is_refused(saved_model: Path, tmp_path: Path) -> None:
    path = copy_model(saved_model, tmp_path)
    card_path = path.with_suffix(".json")
    original = json.loads(card_path.read_text())
    assert original["format_version"] == 2 and set(original["integrity"]) == {"sha256", "covers"}

    def reset() -> None:
        card_path.write_text(json.dumps(original))

    swapped = [dict(c) for c in original["classes"]]
    swapped[0]["name"], swapped[1]["name"] = swapped[1]["name"], swapped[0]["name"]
    edges = original["model"]["bucket_edges"]
    changes: list[dict[str, object]] = [
        {"classes": swapped},  # swapped persona names
        {"model": {**original["model"], "abstain_threshold": 0.7}},  # in range, but changed
        {"model": {**original["model"], "bucket_edges": [e + 1 for e in edges]}},
        {"params": {**original["params"], "calibration": "sigmoid"}},
        {"params": {**original["params"], "C": 2.0}},
        {"unassigned": {"persona": -1, "name": "loyal"}},
    ]
    for change in changes:
        edit_card(path, **change)
        with pytest.raises(ModelError, match=rf"card was changed after saving.*{FIX}") as info:
            load_model(path)
        assert str(path) in str(info.value), change
        reset()
    # a card whose checksum is gone, or that pretends to be format 1 (read with the old rule)
    card = dict(original)
    del card["integrity"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=rf"no integrity checksum.*{FIX}"):
        load_model(path)
    edit_card(path, format_version=1, integrity=original["integrity"])
    with pytest.raises(ModelError, match=rf"format_version 1 but carries a format-2.*{FIX}"):
        load_model(path)
    reset()
    # descriptive fields are not covered: editing them changes nothing
    edit_card(path, metrics={"note": "edited"}, created_at="yesterday")
    assert load_model(path).abstain_threshold == original["model"]["abstain_threshold"]


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("model.abstain_threshold", -5, r"model\.abstain_threshold must be a number in \[0, 1\], "
         r"got -5"),
        ("model.abstain_threshold", "lots", r"abstain_threshold must be .*got 'lots'"),
        ("model.abstain_threshold", float("nan"), r"abstain_threshold must be .*got nan"),
        ("model.abstain_threshold", True, r"abstain_threshold must be .*got True"),
        ("model.bucket_edges", [10, 3], r"bucket_edges must be increasing integers >= 1"),
        ("model.bucket_edges", "3,10", r"bucket_edges must be increasing integers"),
        ("params.abstain_threshold", 2, r"params\.abstain_threshold must be a number in \[0, 1\]"),
        ("params.calibration", "magic", r"params\.calibration must be one of \['temperature'"),
        ("params.C", "lots", r"params\.C must be a number > 0, got 'lots'"),
        ("params.cv", 1, r"params\.cv must be an integer >= 2"),
        ("params.prefix_cuts", [0], r"params\.prefix_cuts must be a non-empty list"),
        ("params.random_state", -1, r"params\.random_state must be an integer"),
        ("feature_names", 5, r"feature_names must be a list of texts, got 5"),
        ("classes", [], r"classes must be a non-empty list"),
        ("as_of", "first_event", r"as_of must be 'last_event'"),
    ],
)  # fmt: skip
def test_card_values_out_of_range_are_refused(
    saved_model: Path, tmp_path: Path, where: str, value: object, message: str
) -> None:
    path = copy_model(saved_model, tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    head, _, sub = where.partition(".")
    if sub:
        card[head][sub] = value
    else:
        card[head] = value
    path.with_suffix(".json").write_text(json.dumps(card))  # NaN is written as NaN
    with pytest.raises(ModelError, match=rf"invalid value.*{message}.*edited or damaged.*{FIX}"):
        load_model(path)


def test_card_persona_ids_are_checked(saved_model: Path, tmp_path: Path) -> None:
    path = copy_model(saved_model, tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    classes = card["classes"]
    edit_card(path, classes=[{**classes[0], "persona": "zero"}, *classes[1:]])
    with pytest.raises(ModelError, match=r"classes\[0\]\.persona must be an integer >= 0"):
        load_model(path)
    edit_card(path, classes=[classes[1], classes[0], *classes[2:]])
    with pytest.raises(ModelError, match=r"unique persona ids in increasing order"):
        load_model(path)
    edit_card(path, classes=[{**classes[0], "name": ""}, *classes[1:]])
    with pytest.raises(ModelError, match=r"classes\[0\]\.name must be a non-empty text"):
        load_model(path)


def test_renamed_personas_and_a_new_threshold_are_saved_and_covered(
    saved_model: Path, tmp_path: Path, log: pd.DataFrame
) -> None:
    """The way to change a saved model's names or threshold: in Python, then save again."""
    model = load_model(saved_model)
    first = int(model.classes_[0])
    model.persona_names_[first] = "night owls"
    model.abstain_threshold = 0.8
    path = model.save(tmp_path / "renamed.skops")
    again = load_model(path)
    assert again.persona_names_[first] == "night owls"
    assert again.abstain_threshold == 0.8
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["params"]["abstain_threshold"] == 0.8
    pd.testing.assert_series_equal(again.predict(log), model.predict(log))
    model.abstain_threshold = 1.5
    with pytest.raises(ConfigError, match=r"abstain_threshold must be a number in \[0, 1\]"):
        model.save(tmp_path / "bad.skops")


def test_format_1_cards_are_read_with_their_own_checksum_rule(tmp_path: Path) -> None:
    """Cards written before format 2 (the 0.1.0 fixture) still load; their checksum covers the
    skops bytes only, but their values are checked; saved again, they get the format-2
    checksum."""
    path = copy_model(FIXTURES / "persona_model_v0.1.0.skops", tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["format_version"] == 1 and "integrity" not in card
    names = {c["persona"]: c["name"] for c in card["classes"]}
    swapped = [dict(c) for c in card["classes"]]
    swapped[0]["name"], swapped[1]["name"] = swapped[1]["name"], swapped[0]["name"]
    edit_card(path, classes=swapped)
    old = load_model(path)  # format 1: the names are not covered
    assert old.persona_names_[0] == names[1]
    edit_card(path, model={**card["model"], "abstain_threshold": -5})
    with pytest.raises(ModelError, match=r"abstain_threshold must be a number in \[0, 1\]"):
        load_model(path)
    edit_card(path, classes=card["classes"], model=card["model"])
    resaved = load_model(path).save(tmp_path / "resaved.skops")
    new_card = json.loads(resaved.with_suffix(".json").read_text())
    assert new_card["format_version"] == 2 and "integrity" in new_card
    edit_card(resaved, classes=swapped)
    with pytest.raises(ModelError, match="card was changed after saving"):
        load_model(resaved)
