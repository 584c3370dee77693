"""Policies that silently do nothing (issue #11, class 4): unsafe/oversize policy files,
rules naming activities the log never has, and backtest gate counts that add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeymine.actions import Policy
from journeymine.actions.policy import MAX_POLICY_BYTES
from journeymine.datasets import sample_policy_path
from journeymine.exceptions import ConfigError

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
journeys: *i
"""


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB)
    with pytest.raises(ConfigError, match=r"line 1: YAML anchors and aliases .* not allowed"):
        Policy.from_file(p)


def test_yaml_alias_alone_and_merge_key_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "merge.yaml"
    p.write_text(
        "base: &base {channel: email, activity: email_sent}\n"
        "journeys:\n  - <<: *base\n    name: x\n"
    )
    with pytest.raises(ConfigError, match="write the repeated part out in full"):
        Policy.from_file(p)


def test_sample_policy_still_loads() -> None:
    assert Policy.from_file(sample_policy_path()).journeys


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_oversize_policy_file_is_refused(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"big{suffix}"
    p.write_text(json.dumps({"journeys": [], "pad": "x" * MAX_POLICY_BYTES}))
    with pytest.raises(ConfigError, match="more than the 1,048,576 a policy may have"):
        Policy.from_file(p)
