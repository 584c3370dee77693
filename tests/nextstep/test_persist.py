"""Saving and loading a NextStepModel: round trip, tampered/corrupted files, untrusted types."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

import journeymine as jm
from journeymine.exceptions import ConfigError, ModelError
from journeymine.io import cards


def _copy(src: Path, folder: Path) -> Path:
    dst = folder / src.name
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


def card_checksum(card: dict, data: bytes, *, without: tuple[str, ...] = ()) -> str:
    """The checksum a loader expects, by the recipe of :func:`journeymine.io.cards.card_checksum`
    over the fields the card's ``integrity.covers`` names (minus ``without``: the fields an older
    format did not cover), as someone who rewrites both files could compute it."""
    covers = card["integrity"]["covers"]
    fields = [f for f in covers if f != "the skops file" and f not in without]
    return cards.card_checksum(card, data, kind=card["kind"], fields=fields)


def _edit(path: Path, fix_checksums: bool = False, **changes: object) -> None:
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card.update(changes)
    if fix_checksums:  # what someone who rewrites both files could do
        import hashlib

        data = path.read_bytes()
        card["artifact"]["sha256"] = hashlib.sha256(data).hexdigest()
        card["integrity"]["sha256"] = card_checksum(card, data)
    card_path.write_text(json.dumps(card))


def test_round_trip_predicts_the_same(
    model: jm.NextStepModel, saved: Path, log: pd.DataFrame
) -> None:
    again = jm.load_next_step_model(saved)
    # the loader builds the scoring tables (the forests walked together, the one-row path):
    # the first live prediction does not pay for them
    ensemble = again.__dict__["_ensemble_"]
    assert ensemble.heads is again.heads_ and "_row_scorer" in ensemble.__dict__
    pd.testing.assert_frame_equal(again.predict(log), model.predict(log))
    pd.testing.assert_frame_equal(again.predict_proba(log), model.predict_proba(log))
    assert jm.NextStepModel.load(saved).classes_ == model.classes_
    card = json.loads(saved.with_suffix(".json").read_text())
    assert card["kind"] == "journeymine.NextStepModel"
    assert card["params"]["outcome"] == "purchase" and card["params"]["horizon"] == "7D"
    assert card["artifact"]["untrusted_types"] == []  # nothing beyond skops' trusted types
    assert "temperatures" in card["integrity"]["covers"]


def test_a_changed_card_is_refused(saved: Path, tmp_path: Path) -> None:
    p = _copy(saved, tmp_path)
    card = json.loads(p.with_suffix(".json").read_text())
    _edit(p, temperatures={**card["temperatures"], "activity": 0.2})
    with pytest.raises(ModelError, match="changed after saving"):
        jm.load_next_step_model(p)
    p = _copy(saved, tmp_path)
    _edit(p, classes=list(reversed(card["classes"])))
    with pytest.raises(ModelError, match="changed after saving"):
        jm.load_next_step_model(p)
    p = _copy(saved, tmp_path)
    _edit(p, metrics={"anything": 1})  # descriptive fields are not covered
    jm.load_next_step_model(p)


def test_corrupted_or_missing_files_are_refused(saved: Path, tmp_path: Path) -> None:
    p = _copy(saved, tmp_path)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        jm.load_next_step_model(p)
    p.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match=r"card .* does not exist"):
        jm.load_next_step_model(p)
    with pytest.raises(ModelError, match="does not exist"):
        jm.load_next_step_model(tmp_path / "nothing.skops")
    p = _copy(saved, tmp_path)
    _edit(p, format_version=99)
    with pytest.raises(ModelError, match="newer than this journeymine reads"):
        jm.load_next_step_model(p)
    p = _copy(saved, tmp_path)
    _edit(p, kind="journeymine.PersonaModel")
    with pytest.raises(ModelError, match="not a NextStepModel card"):
        jm.load_next_step_model(p)


def test_untrusted_types_are_refused_even_with_recomputed_checksums(
    saved: Path, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    p = _copy(saved, tmp_path)
    state = sio.loads(p.read_bytes(), trusted=[])
    state["activity"] = LogisticRegression()  # not in the (empty) allowlist
    p.write_bytes(sio.dumps(state, compression=zipfile.ZIP_DEFLATED))
    _edit(p, fix_checksums=True)
    with pytest.raises(ModelError, match="outside the allowlist"):
        jm.load_next_step_model(p)


def test_inconsistent_forests_are_refused(saved: Path, tmp_path: Path) -> None:
    p = _copy(saved, tmp_path)
    state = sio.loads(p.read_bytes(), trusted=[])
    state["activity"]["left"] = state["activity"]["left"] + 10**9  # links out of range
    p.write_bytes(sio.dumps(state, compression=zipfile.ZIP_DEFLATED))
    _edit(p, fix_checksums=True)
    with pytest.raises(ModelError, match="does not match its card"):
        jm.load_next_step_model(p)


def test_save_refuses_a_card_name_and_a_missing_folder(
    model: jm.NextStepModel, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="name of the model card"):
        model.save(tmp_path / "m.json")
    with pytest.raises(ConfigError, match="does not exist"):
        model.save(tmp_path / "no" / "m.skops")
    assert np.all([k in model.card_ for k in ("integrity", "artifact")])


def test_a_format_1_file_without_the_count_model_still_loads(
    log: pd.DataFrame, tmp_path: Path
) -> None:
    # format 1 (before the count blend) had no "ngram" in the skops file and no tree_weight in
    # the card, and its checksum did not cover tree_weight: such a file loads as the trees alone
    model = jm.NextStepModel(tree_weight=1.0, max_iter=10).fit(log)
    path = model.save(tmp_path / "old.skops")
    card = json.loads(path.with_suffix(".json").read_text())
    assert model.ngram_ is None and "ngram" not in sio.loads(path.read_bytes(), trusted=[])
    del card["tree_weight"], card["tree_weights"]
    card["format_version"] = 1
    format_1 = ("tree_weight", "tree_weights")  # what a format 1 checksum did not cover
    card["integrity"]["sha256"] = card_checksum(card, path.read_bytes(), without=format_1)
    path.with_suffix(".json").write_text(json.dumps(card))
    old = jm.load_next_step_model(path)
    assert old.tree_weight_ == 1.0 and old.ngram_ is None
    pd.testing.assert_frame_equal(old.predict(log), model.predict(log))
    # a format 2 card that says the trees are blended but holds no count model is refused
    card["format_version"] = 2
    card["tree_weight"] = 0.5
    card["integrity"]["sha256"] = card_checksum(card, path.read_bytes(), without=format_1[1:])
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"tree_weight 0\.5 without a count model"):
        jm.load_next_step_model(path)


def test_a_format_2_file_with_one_weight_still_loads(log: pd.DataFrame, tmp_path: Path) -> None:
    # format 2 (before the weights per context length) had one tree_weight, used for every
    # prefix, and no tree_weights in the card or its checksum
    model = jm.NextStepModel(tree_weight=0.3, max_iter=10).fit(log)
    assert model.tree_weights_ == [0.3] * 4
    path = model.save(tmp_path / "v2.skops")
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["format_version"] == 3 and card["tree_weights"] == [0.3] * 4
    del card["tree_weights"]
    card["format_version"] = 2
    card["integrity"]["sha256"] = card_checksum(card, path.read_bytes(), without=("tree_weights",))
    path.with_suffix(".json").write_text(json.dumps(card))
    old = jm.load_next_step_model(path)
    assert old.tree_weight_ == 0.3 and old.tree_weights_ == [0.3] * 4
    pd.testing.assert_frame_equal(old.predict_proba(log), model.predict_proba(log))
    # a format 2 card's stray tree_weights are not read (format 2 had none)
    card["tree_weights"] = [1.0, 0.0, 0.0, 0.0]
    path.with_suffix(".json").write_text(json.dumps(card))
    assert jm.load_next_step_model(path).tree_weights_ == [0.3] * 4


def test_weights_per_context_length_are_saved_and_checksummed(
    log: pd.DataFrame, tmp_path: Path
) -> None:
    model = jm.NextStepModel(tree_weight=0.3, max_iter=10).fit(log)
    model.tree_weights_ = [1.0, 0.6, 0.2, 0.0]
    path = model.save(tmp_path / "w.skops")
    again = jm.load_next_step_model(path)
    assert again.tree_weights_ == [1.0, 0.6, 0.2, 0.0]
    pd.testing.assert_frame_equal(again.predict_proba(log), model.predict_proba(log))
    card = json.loads(path.with_suffix(".json").read_text())
    card["tree_weights"] = [1.0, 1.0, 1.0, 1.0]
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="changed after saving"):
        jm.load_next_step_model(path)
    card["tree_weights"] = [1.0, 0.5]
    card["integrity"]["sha256"] = card_checksum(card, path.read_bytes())
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="2 tree_weights for 4 buckets"):
        jm.load_next_step_model(path)
