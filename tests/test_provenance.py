"""Provenance block of results files, and the dirty-tree refusal of benchmarks."""

import hashlib
import subprocess

import pytest

from pig_control import provenance
from pig_control.errors import UserInputError


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "old.json").write_text("{}\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_clean_tree_then_code_change_is_dirty_and_refused(repo):
    state = provenance.require_clean_tree(False, repo)
    assert len(state["commit"]) == 40 and state["clean_tree"] is True
    # results and tuning files are outputs: writing them keeps the tree clean
    (repo / "benchmarks" / "results" / "old.json").write_text('{"new": 1}\n')
    (repo / "benchmarks" / "results" / "new.json").write_text("{}\n")
    (repo / "benchmarks" / "tuning").mkdir()
    (repo / "benchmarks" / "tuning" / "choice.json").write_text("{}\n")
    assert provenance.git_state(repo)["clean_tree"] is True
    (repo / "code.py").write_text("x = 2\n")
    (repo / "extra.py").write_text("")
    state = provenance.git_state(repo)
    assert state["clean_tree"] is False
    assert sorted(state["changed_files"]) == ["code.py", "extra.py"]
    with pytest.raises(UserInputError, match="--allow-dirty"):
        provenance.require_clean_tree(False, repo)
    assert provenance.require_clean_tree(True, repo)["clean_tree"] is False


def test_not_a_checkout_has_no_commit_and_is_refused_without_allow_dirty(tmp_path):
    assert provenance.git_state(tmp_path / "nowhere") == {
        "commit": None, "clean_tree": None, "changed_files": None}
    with pytest.raises(UserInputError, match="not a git checkout"):
        provenance.require_clean_tree(False, tmp_path / "nowhere")


def test_block_holds_command_inputs_versions_and_machine(tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights" * 1000)
    block = provenance.provenance("pig_control.mpc", ["--env", "spring", "--json", "a b.json"],
                                  inputs=[checkpoint], allow_dirty=True)
    assert block["command"] == "python -m pig_control.mpc --env spring --json 'a b.json'"
    assert block["argv"][-1] == "a b.json"
    assert block["inputs"] == {str(checkpoint): {
        "sha256": hashlib.sha256(b"weights" * 1000).hexdigest(), "bytes": 7000}}
    assert block["allow_dirty"] is True
    assert block["packages"]["torch"] and block["packages"]["numpy"]
    assert "numba" in block["packages"] and "stable-baselines3" in block["packages"]
    assert block["machine"]["cpu_count"] >= 1
    assert block["time_utc"].endswith("Z")
    script = provenance.provenance("benchmarks/planner_speed.py", ["--episodes", "2"])
    assert script["command"] == "python benchmarks/planner_speed.py --episodes 2"
    with pytest.raises(UserInputError, match="not a readable file"):
        provenance.provenance("x", [], inputs=[tmp_path / "missing.pt"])


def test_this_checkout_records_its_commit():
    head = subprocess.run(["git", "-C", str(provenance.REPO_ROOT), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    block = provenance.provenance("pig_control.mpc", [])
    if head.returncode == 0:
        assert block["commit"] == head.stdout.strip()
        assert isinstance(block["clean_tree"], bool)


def test_cli_prints_the_block_and_require_clean_follows_the_tree(capsys, monkeypatch, repo):
    from cli_helpers import run_entry

    status, out, _ = run_entry(provenance.main, capsys, [])
    assert status == 0 and '"command": "python -m pig_control.provenance"' in out
    monkeypatch.setattr(provenance, "REPO_ROOT", repo)
    monkeypatch.setattr(provenance.require_clean_tree, "__defaults__", (repo,))
    assert run_entry(provenance.main, capsys, ["--require-clean"])[0] == 0
    (repo / "code.py").write_text("x = 3\n")
    status, _, err = run_entry(provenance.main, capsys, ["--require-clean"])
    assert status == 2 and "code.py" in err and len(err.strip().splitlines()) == 1
