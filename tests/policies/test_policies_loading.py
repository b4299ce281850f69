"""Loading policy files: the seed's policies, and a clear error for every kind of mistake."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from customer_overview.errors import InvalidPolicyError
from policies import PolicySet, load_policies, load_policy_file
from policies.operators import BucketDateParams, HashParams, PassThroughParams

VALID_POLICY: dict[str, Any] = {
    "version": "v1",
    "name": "customeroverviewrawpiipolicy",
    "type": "policy",
    "layer": "user",
    "description": "data policy to hash pii columns - test",
    "owner": "iamgroot",
    "policy": {
        "data": {
            "type": "mask",
            "priority": 80,
            "selector": {
                "user": {"match": "any", "tags": ["roles:id:restricted-acess"]},
                "column": {"tags": ["TW.mask"]},
            },
            "mask": {"operator": "hash", "hash": {"algo": "sha256"}},
        }
    },
}


def write_policy(path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Write ``VALID_POLICY``, modified in place by ``change``, as YAML to ``path``."""
    document = copy.deepcopy(VALID_POLICY)
    if change is not None:
        change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def data_block(document: dict[str, Any]) -> dict[str, Any]:
    return document["policy"]["data"]


def test_seed_policies_load_exactly(seed_policies: PolicySet) -> None:
    by_name = {policy.name: policy for policy in seed_policies}
    assert set(by_name) == {
        "customeroverviewrawpiipolicy",
        "customerbucketdob",
        "customeroverviewrpiireaderpolicy",
    }

    hashing = by_name["customeroverviewrawpiipolicy"]
    assert hashing.priority == 80
    assert hashing.user_match == "any"
    assert hashing.user_tags == {"roles:id:restricted-acess"}  # the seed's spelling, typo kept
    assert hashing.column_tags == {"TW.mask"}
    assert hashing.operator == "hash"
    assert hashing.params == HashParams(algo="sha256")
    assert hashing.owner == "iamgroot"

    bucketing = by_name["customerbucketdob"]
    assert (bucketing.priority, bucketing.user_tags) == (85, {"roles:id:dob-bucketing"})
    assert bucketing.column_tags == {"TW.dob"}
    assert bucketing.params == BucketDateParams(precision="quarter")

    reader = by_name["customeroverviewrpiireaderpolicy"]
    assert (reader.priority, reader.user_tags) == (75, {"roles:id:pii-reader"})
    assert reader.column_tags == {"TW.mask", "TW.dob"}
    assert reader.params == PassThroughParams()
    assert reader.owner is None

    # Ordered by priority: the winner among matching policies is the first one.
    assert [policy.priority for policy in seed_policies] == [75, 80, 85]


def test_load_policy_file_records_its_source(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "hash.yaml")
    assert load_policy_file(path).source == path


def set_at(keys: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def delete_at(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


DATA = ("policy", "data")
MASK = (*DATA, "mask")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            delete_at((*DATA, "priority")),
            "missing field 'policy.data.priority'",
            id="missing-priority",
        ),
        pytest.param(delete_at(("name",)), "missing field 'name'", id="missing-name"),
        pytest.param(
            delete_at((*DATA, "selector", "user", "match")),
            "missing field 'policy.data.selector.user.match'",
            id="missing-match",
        ),
        pytest.param(
            delete_at((*MASK, "operator")),
            "missing field 'policy.data.mask.operator'",
            id="missing-operator",
        ),
        pytest.param(
            set_at((*MASK, "operator"), "hsah"),
            "unknown operator 'hsah' (known: bucket_date, bucket_number, hash, pass_through, "
            "redact, regex_replace)",
            id="unknown-operator",
        ),
        pytest.param(
            set_at(MASK, {"operator": "bucket_date", "bucket_date": {"precision": "quartr"}}),
            "bad parameter 'policy.data.mask.bucket_date.precision'",
            id="bad-precision",
        ),
        pytest.param(
            set_at((*MASK, "hash"), {"algo": "md5"}),
            "bad parameter 'policy.data.mask.hash.algo'",
            id="bad-algo",
        ),
        pytest.param(
            set_at((*MASK, "hash"), None),
            "missing parameter 'policy.data.mask.hash.algo'",
            id="missing-algo",
        ),
        pytest.param(
            set_at((*MASK, "hash"), {"algo": "sha256", "salt": "s3cr3t"}),
            "unknown parameter 'policy.data.mask.hash.salt'",
            id="salt-in-file",
        ),
        pytest.param(
            set_at((*MASK, "hash"), {"algo": "sha256", "salt_env": "my salt"}),
            "bad parameter 'policy.data.mask.hash.salt_env'",
            id="bad-salt-env",
        ),
        pytest.param(
            set_at((*MASK, "bucket_date"), {"precision": "quarter"}),
            "unexpected key(s) bucket_date under policy.data.mask",
            id="parameters-of-another-operator",
        ),
        pytest.param(
            set_at((*MASK, "hash"), ["sha256"]),
            "'policy.data.mask.hash' must be a mapping of parameters, got a list",
            id="parameters-not-a-mapping",
        ),
        pytest.param(
            set_at(MASK, {"operator": "bucket_number", "bucket_number": {"bucket_size": 0}}),
            "bad parameter 'policy.data.mask.bucket_number.bucket_size'",
            id="bucket-size-zero",
        ),
        pytest.param(
            set_at(
                MASK,
                {
                    "operator": "regex_replace",
                    "regex_replace": {"pattern": "(a", "replacement": ""},
                },
            ),
            "invalid or non-portable pattern",
            id="regex-does-not-compile",
        ),
        pytest.param(
            set_at(
                MASK,
                {
                    "operator": "regex_replace",
                    "regex_replace": {"pattern": "(?P<x>a)", "replacement": ""},
                },
            ),
            "named groups",
            id="regex-python-only",
        ),
        pytest.param(
            set_at(
                MASK,
                {
                    "operator": "regex_replace",
                    "regex_replace": {"pattern": "(a)", "replacement": "$2"},
                },
            ),
            "refers to group $2 but the pattern has 1 group(s)",
            id="regex-missing-group",
        ),
        pytest.param(
            set_at(
                MASK,
                {
                    "operator": "regex_replace",
                    "regex_replace": {"pattern": "a", "replacement": r"\1"},
                },
            ),
            "may not contain backslashes",
            id="regex-python-group-syntax",
        ),
        pytest.param(
            set_at((*DATA, "priority"), 0), "bad field 'policy.data.priority'", id="priority-0"
        ),
        pytest.param(
            set_at((*DATA, "priority"), 101), "bad field 'policy.data.priority'", id="priority-101"
        ),
        pytest.param(
            set_at((*DATA, "priority"), "80"),
            "bad field 'policy.data.priority'",
            id="priority-as-text",
        ),
        pytest.param(
            set_at((*DATA, "selector", "user", "match"), "some"),
            "bad field 'policy.data.selector.user.match': Input should be 'any' or 'all'",
            id="bad-match",
        ),
        pytest.param(
            set_at((*DATA, "selector", "column", "tags"), []),
            "bad field 'policy.data.selector.column.tags'",
            id="no-column-tags",
        ),
        pytest.param(
            set_at((*DATA, "selector", "column", "tags"), ["TW.mask "]),
            "leading/trailing whitespace",
            id="tag-with-space",
        ),
        pytest.param(
            set_at((*DATA, "type"), "filter"), "bad field 'policy.data.type'", id="not-a-mask"
        ),
        pytest.param(set_at(("prioirty",), 80), "unknown field 'prioirty'", id="typo-top-level"),
        pytest.param(set_at(("name",), "Customer PII"), "bad field 'name'", id="bad-name"),
    ],
)
def test_invalid_policy_is_reported_with_file_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    path = write_policy(tmp_path / "broken.yaml", change)
    with pytest.raises(InvalidPolicyError) as raised:
        load_policy_file(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    # Never a raw pydantic dump.
    assert "validation error" not in message
    assert "errors.pydantic.dev" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("version: v1\nname: [unclosed\n", "not valid YAML: ", id="not-yaml"),
        pytest.param("", "got an empty file", id="empty"),
        pytest.param("- a\n- b\n", "expected a YAML mapping", id="a-list"),
        pytest.param("version: v1\nversion: v2\n", "duplicate key 'version'", id="duplicate-key"),
    ],
)
def test_unreadable_policy_text_is_reported(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidPolicyError, match="^" + str(path) + ": ") as raised:
        load_policy_file(path)
    assert expected in str(raised.value)


def test_duplicate_names_name_both_files(tmp_path: Path) -> None:
    first = write_policy(tmp_path / "a.yaml")
    second = write_policy(tmp_path / "b.yaml", set_at((*DATA, "priority"), 70))
    with pytest.raises(InvalidPolicyError) as raised:
        load_policies(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{second}: duplicate policy name 'customeroverviewrawpiipolicy'")
    assert str(first) in message


def test_equal_priorities_on_shared_column_tags_conflict(tmp_path: Path) -> None:
    first = write_policy(tmp_path / "a.yaml")
    second = write_policy(
        tmp_path / "b.yaml",
        lambda document: (
            set_at(("name",), "otherpolicy")(document),
            set_at((*DATA, "selector", "user", "tags"), ["roles:id:someone-else"])(document),
            set_at((*DATA, "selector", "column", "tags"), ["TW.dob", "TW.mask"])(document),
        ),
    )
    with pytest.raises(InvalidPolicyError) as raised:
        load_policies(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{first}: conflicting priorities")
    assert str(second) in message
    assert "priority 80" in message
    assert "TW.mask" in message


def test_equal_priorities_on_disjoint_column_tags_are_fine(tmp_path: Path) -> None:
    write_policy(tmp_path / "a.yaml")
    write_policy(
        tmp_path / "b.yaml",
        lambda document: (
            set_at(("name",), "otherpolicy")(document),
            set_at((*DATA, "selector", "column", "tags"), ["TW.dob"])(document),
        ),
    )
    assert len(load_policies(tmp_path)) == 2


def test_yml_files_are_refused_not_skipped(tmp_path: Path) -> None:
    write_policy(tmp_path / "a.yaml")
    misnamed = write_policy(tmp_path / "b.yml")
    with pytest.raises(InvalidPolicyError, match=f"^{misnamed}: policy files must end in .yaml"):
        load_policies(tmp_path)


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicyError, match="not a directory of policy files"):
        load_policies(tmp_path / "nowhere")
