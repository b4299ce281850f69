"""The console command: clear errors for what a user can get wrong."""

from __future__ import annotations

from operations.cli import main


def test_unknown_profile_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_PROFILE", raising=False)
    code = main(["--lakehouse-dir", str(tmp_path), "--profile", "prod", "config", "show"])
    assert code == 2
    err = capsys.readouterr().err
    assert "ConfigurationError" in err and "unknown profile 'prod'" in err


def test_config_show_hides_secrets(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark://127.0.0.1:7077")
    monkeypatch.setenv("LAKEHOUSE_CATALOG_URI", "127.0.0.1:5432/lake")
    monkeypatch.setenv("LAKEHOUSE_CATALOG_PASSWORD", "hunter2")
    code = main(["--lakehouse-dir", str(tmp_path), "--profile", "cluster", "config", "show"])
    out = capsys.readouterr().out
    assert code == 0 and "hunter2" not in out and "**********" in out


def test_query_before_anything_is_published(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_PROFILE", raising=False)
    code = main(["--lakehouse-dir", str(tmp_path), "query", "select 1"])
    assert code == 2
    assert "nothing is published yet for role group 'restricted'" in capsys.readouterr().err


def test_unknown_role_group(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_PROFILE", raising=False)
    code = main(["--lakehouse-dir", str(tmp_path), "query", "--role", "admin", "select 1"])
    assert code == 2
    assert "unknown role group 'admin'" in capsys.readouterr().err


def test_generate_rejects_bad_rates(tmp_path, capsys):
    code = main(
        ["generate", "--customers", "10", "--out", str(tmp_path / "x"), "--bad-row-rate", "1.5"]
    )
    assert code == 2
