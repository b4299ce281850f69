"""Policy lint: configuration that loads but matches nothing is named (pure Python, real files).

Each case edits a copy of the seed's policy files, role groups or column tags the way a person
would get it wrong, loads it with the product's loader and lints it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from customer_overview.product import load_manifest, manifest_path
from operations.cli import main as cli
from policies import RoleGroup, load_policies
from policies.lint import LintFinding, lint_policies, lint_product

SEED_DIR = Path(__file__).parents[2] / "policies"
HASH_FILE = "pii_hash_restricted.yaml"
READER_FILE = "pii_reader_pass_through.yaml"
BUCKET_FILE = "dob_bucket_quarter.yaml"


def _policies(tmp_path: Path, edits: dict[str, tuple[str, str] | None]):
    """A copy of the seed's policy folder; ``edits``: file -> (old, new) text, or None: removed."""
    folder = tmp_path / "policies"
    folder.mkdir()
    for path in sorted(SEED_DIR.glob("*.yaml")):
        edit = edits.get(path.name, ("", ""))
        if edit is None:
            continue
        old, new = edit
        text = path.read_text(encoding="utf-8")
        assert old in text
        (folder / path.name).write_text(text.replace(old, new, 1) if old else text)
    return load_policies(folder)


def _groups(**renamed_tags: str) -> list[RoleGroup]:
    tags = {
        "restricted": "roles:id:restricted-acess",
        "dob_bucketed": "roles:id:dob-bucketing",
        "pii_reader": "roles:id:pii-reader",
    } | renamed_tags
    return [
        RoleGroup(name=name, description=f"holders of {tag}", tags=frozenset({tag}))
        for name, tag in tags.items()
    ]


def _tables(**column_tags: tuple[str, ...]) -> dict[str, dict[str, tuple[str, ...]]]:
    columns = {
        "cust_id": (),
        "cust_first_name": ("TW.mask", "pii"),
        "email_addr": ("TW.mask", "pii"),
        "cust_dob": ("TW.dob", "pii"),
    } | column_tags
    return {"customers": columns, "accounts": {"account_id": (), "cust_id": ()}}


def _warnings(findings: list[LintFinding]) -> list[LintFinding]:
    return [finding for finding in findings if finding.severity == "warning"]


def test_the_seed_configuration_has_no_warning(tmp_path):
    findings = lint_policies(_policies(tmp_path, {}), _groups(), _tables())
    assert not _warnings(findings)
    [note] = findings  # pii: descriptive, every column carrying it is selected by TW.*
    assert note.kind == "column_tag_in_no_policy" and "'pii'" in note.message


CASES = [
    pytest.param(
        {HASH_FILE: ('- "roles:id:restricted-acess"', '- "roles:id:restricted-access"')},
        {},
        {},
        {
            "policy_selects_no_role_group": "policy customeroverviewrawpiipolicy "
            "(policies/pii_hash_restricted.yaml) selects no role group: user tag(s) "
            "'roles:id:restricted-access' (did you mean 'roles:id:restricted-acess'?) held by "
            "no role group",
            "role_group_selected_by_no_policy": "role group restricted",
        },
        id="policy-user-tag-typo",
    ),
    pytest.param(
        {},
        {"restricted": "roles:id:restricted-access"},
        {},
        {
            "policy_selects_no_role_group": "did you mean 'roles:id:restricted-access'?",
            "role_group_selected_by_no_policy": "role group restricted (tags "
            "'roles:id:restricted-access' (did you mean 'roles:id:restricted-acess'?)) is "
            "selected by no policy: every tagged column is redacted for it",
        },
        id="role-group-tag-typo",
    ),
    pytest.param(
        {BUCKET_FILE: ('- "TW.dob"', '- "TW.dbo"')},
        {},
        {},
        {
            "policy_selects_no_column": "policy customerbucketdob (policies/dob_bucket_quarter"
            ".yaml) selects no column: column tag(s) 'TW.dbo' (did you mean 'TW.dob'?) on no "
            "column of any schema",
        },
        id="policy-column-tag-typo",
    ),
    pytest.param(
        {READER_FILE: ('- "TW.dob"', '- "TW.dobb"')},
        {},
        {},
        {"column_tag_on_no_column": "column tag(s) 'TW.dobb' (did you mean 'TW.dob'?)"},
        id="one-of-two-column-tags-matches-nothing",
    ),
    pytest.param(
        {READER_FILE: ('- "roles:id:pii-reader"', '- "roles:id:pii-reader"\n          - "x:y"')},
        {},
        {},
        {"user_tag_held_by_no_role_group": "user tag(s) 'x:y' held by no role group"},
        id="one-of-two-user-tags-held-by-nobody",
    ),
    pytest.param(
        {READER_FILE: ("match: any", "match: all")},
        {"pii_reader": "roles:id:pii-reader"},
        {},
        {},
        id="match-all-with-one-tag-is-fine",
    ),
    pytest.param(
        {
            READER_FILE: (
                'match: any\n        tags:\n          - "roles:id:pii-reader"',
                'match: all\n        tags:\n          - "roles:id:pii-reader"\n'
                '          - "roles:id:dob-bucketing"',
            )
        },
        {},
        {},
        {
            "policy_selects_no_role_group": "no role group holds all of "
            "'roles:id:dob-bucketing', 'roles:id:pii-reader'",
            "role_group_selected_by_no_policy": "role group pii_reader",
        },
        id="match-all-no-group-holds-every-tag",
    ),
    pytest.param(
        {},
        {},
        {"cust_first_name": ("TW.maks", "pii")},
        {
            "column_tag_in_no_policy": "column tag 'TW.maks' (did you mean 'TW.mask'?) on "
            "customers.cust_first_name is in no policy; customers.cust_first_name carry no tag "
            "a policy mentions: redacted for every role group",
        },
        id="schema-column-tag-typo",
    ),
    pytest.param(
        {},
        {},
        {"email_addr": ("TW.mask", "TW.maks")},
        {"column_tag_in_no_policy": "its columns are masked by their other tags only"},
        id="near-miss-beside-a-covered-tag",
    ),
    pytest.param(
        {READER_FILE: None, HASH_FILE: ('- "roles:id:restricted-acess"', '- "roles:id:nobody"')},
        {},
        {},
        {
            "policy_selects_no_role_group": "'roles:id:nobody' held by no role group",
            "role_group_selected_by_no_policy": "role group restricted",
            "column_denied_to_every_role_group": "customers: column(s) cust_first_name, "
            "email_addr are redacted for every role group",
        },
        id="columns-no-group-may-see",
    ),
    pytest.param(
        {READER_FILE: None, HASH_FILE: None, BUCKET_FILE: None},
        {},
        {},
        {
            "empty_policy_set": "no masking policy is configured: every tagged column is "
            "redacted for every role group",
        },
        id="empty-policy-set",
    ),
]


@pytest.mark.parametrize(("policy_edits", "group_tags", "column_tags", "expected"), CASES)
def test_configuration_that_matches_nothing_is_named(
    tmp_path, policy_edits, group_tags, column_tags, expected
):
    findings = lint_policies(
        _policies(tmp_path, policy_edits), _groups(**group_tags), _tables(**column_tags)
    )
    warnings = _warnings(findings)
    assert {finding.kind for finding in warnings} == set(expected)
    for kind, fragment in expected.items():
        messages = [finding.message for finding in warnings if finding.kind == kind]
        assert any(fragment in message for message in messages), (fragment, messages)


def test_drop_mode_says_dropped(tmp_path):
    policies = _policies(tmp_path, {READER_FILE: None, HASH_FILE: None, BUCKET_FILE: None})
    [finding] = lint_policies(policies, _groups(), _tables(), default_deny="drop")
    assert "every tagged column is dropped" in finding.message


def test_findings_say_which_table_and_role_group_they_concern(tmp_path):
    policies = _policies(tmp_path, {HASH_FILE: ('- "roles:id:restricted-acess"', '- "roles:id:x"')})
    findings = lint_policies(policies, _groups(), _tables(cust_dob=("TW.dbo",)))
    by_kind = {finding.kind: finding for finding in _warnings(findings)}
    group_finding = by_kind["role_group_selected_by_no_policy"]
    assert group_finding.concerns("customers", "restricted")
    assert not group_finding.concerns("customers", "pii_reader")
    tag_finding = by_kind["column_tag_in_no_policy"]
    assert tag_finding.concerns("customers", "pii_reader")
    assert not tag_finding.concerns("accounts", "pii_reader")
    assert by_kind["policy_selects_no_role_group"].concerns("accounts", "pii_reader")


# ---------------------------------------------------------------- the product and config show
def _manifest_with_policies(tmp_path: Path, monkeypatch, policies_dir: Path) -> None:
    manifest = yaml.safe_load(manifest_path().read_text(encoding="utf-8"))
    manifest["consumers"]["policies_dir"] = str(policies_dir)
    target = tmp_path / "dataproduct.yaml"
    target.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    monkeypatch.setenv("DATAPRODUCT_MANIFEST", str(target))


def test_the_product_lints_its_outputs_schemas(tmp_path, monkeypatch):
    assert not _warnings(lint_product(load_manifest()))
    folder = tmp_path / "typo"
    shutil.copytree(SEED_DIR, folder, ignore=shutil.ignore_patterns("*.py", "*.md", "__*"))
    hash_file = folder / HASH_FILE
    hash_file.write_text(
        hash_file.read_text().replace('- "roles:id:restricted-acess"', '- "roles:id:restricted-a"')
    )
    _manifest_with_policies(tmp_path, monkeypatch, folder)
    kinds = {finding.kind for finding in _warnings(lint_product(load_manifest()))}
    assert kinds == {"policy_selects_no_role_group", "role_group_selected_by_no_policy"}


def test_config_show_prints_the_lint(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    _manifest_with_policies(tmp_path, monkeypatch, empty)
    monkeypatch.delenv("LAKEHOUSE_PROFILE", raising=False)
    code = cli(["--lakehouse-dir", str(tmp_path / "lake"), "config", "show"])
    captured = capsys.readouterr()
    assert code == 0
    lint = json.loads(captured.out)["policy_lint"]
    assert lint["warnings"] == [
        "no masking policy is configured: every tagged column is redacted for every role group"
    ]
    assert "warning: no masking policy is configured" in captured.err


def test_every_masked_output_warns_with_the_findings_that_concern_it(lake_spark, lakehouse):
    """The policies_lint check on real masked tables (products: small, no tagged column)."""
    from dagster import materialize

    from assets.curated.asset import curated_assets
    from assets.governed.asset import LINT_CHECK, masked_output_assets
    from assets.raw.asset import raw_asset
    from customer_overview.entities import load_entity
    from customer_overview.resources import LakehouseResource

    products = load_entity("products")
    folder = lakehouse.landing_dir / "products"
    folder.mkdir(parents=True)
    (folder / "products_00001.csv").write_text(
        ",".join(["", *products.column_names])
        + "\n0,PRD0001,Gold Card,Credit Card,Card,0.00,999.00,,,2020-01-01,"
        "2020-01-01 00:00:00,2020-01-01 00:00:00\n",
        encoding="utf-8",
    )
    typo = lakehouse.lakehouse_dir / "policies"
    shutil.copytree(SEED_DIR, typo, ignore=shutil.ignore_patterns("*.py", "*.md", "__*"))
    hash_file = typo / HASH_FILE
    hash_file.write_text(
        hash_file.read_text().replace('- "roles:id:restricted-acess"', '- "roles:id:restricted"')
    )
    manifest = load_manifest()
    manifest = manifest.model_copy(
        update={"consumers": manifest.consumers.model_copy(update={"policies_dir": str(typo)})}
    )
    result = materialize(
        [
            raw_asset(products),
            curated_assets(products),
            masked_output_assets(manifest, manifest.output("products")),
        ],
        resources={"lakehouse": LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir))},
    )
    assert result.success
    lint = {
        e.asset_key.path[-1]: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == LINT_CHECK
    }
    assert set(lint) == {f"products_dp__{g.name}" for g in manifest.consumers.role_groups}
    restricted = lint["products_dp__restricted"]
    assert not restricted.passed and restricted.severity.value == "WARN"
    findings = restricted.metadata["findings"].value
    assert "selects no role group" in findings and "role group restricted" in findings
    # The typo concerns pii_reader only through the policy that selects nobody.
    reader = lint["products_dp__pii_reader"].metadata["findings"].value
    assert "selects no role group" in reader and "role group restricted" not in reader
