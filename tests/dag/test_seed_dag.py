"""Every documented name of curifactory's DAG and ExecutionNode works on sweepstack's map.

The experiment here: records through a 3-stage pipeline, and an aggregate record over
them; one record's first stage is cached beforehand.
"""

from __future__ import annotations

import pytest

from sweepstack.dag import DAG, ArtifactManager, ExecutionNode, aggregate
from sweepstack.errors import StageDefinitionError
from tests.dag._pipeline import pipeline, reset_counts

DAG_NAMES = [
    "analyze",
    "build_execution_tree_recursive",
    "build_execution_trees",
    "child_records",
    "determine_execution_list",
    "determine_execution_list_recursive",
    "find_leaves",
    "get_record_string",
    "is_leaf",
    "is_output_used_anywhere",
    "print_experiment_map",
    "artifacts",
    "execution_list",
    "execution_trees",
]
NODE_NAMES = ["chain_rep", "string_rep", "dependencies", "parent"]


@aggregate(inputs=["third"], outputs=["best"], version="1")
def best(record, records, third):
    return max(third.values())


@pytest.fixture
def mapped(tmp_path):
    reset_counts()
    path = str(tmp_path / "exp")
    warm = ArtifactManager("pi", path)
    pipeline(warm.record({"a": 1, "b": 1, "c": 1})).resolve()
    warm.finish()
    manager = ArtifactManager("pi", path, dry=True)
    records = [pipeline(manager.record({"a": 1, "b": b, "c": 1})) for b in (1, 2)]
    summary = best(manager.record({"summary": True}), records)
    return DAG([*records, summary]), records, summary


def test_every_documented_name_is_on_the_classes_and_called_below():
    assert set(DAG_NAMES) <= set(dir(DAG)) | {"artifacts", "execution_list", "execution_trees"}
    assert set(NODE_NAMES) <= set(dir(ExecutionNode)) | {"dependencies", "parent"}


def test_find_leaves_is_leaf_and_trees(mapped):
    dag, records, summary = mapped
    assert dag.find_leaves() == [(2, "best")]  # every third is taken by the aggregate
    assert dag.is_leaf(summary, "best") and not dag.is_leaf(records[0], "third")
    assert [t.chain_rep() for t in dag.execution_trees] == [(2, "best")]
    dag.execution_trees = []
    dag.build_execution_trees()
    assert [len(t.dependencies) for t in dag.execution_trees] == [2]


def test_execution_list_runs_only_what_is_not_cached(mapped):
    dag, _, _ = mapped
    # record 0 is cached to its end: its stages are not run; record 1 reuses its `first`
    assert dag.execution_list == [(1, "second"), (1, "third"), (2, "best")]
    dag.execution_list = []
    dag.determine_execution_list()
    assert dag.execution_list == [(1, "second"), (1, "third"), (2, "best")]
    dag.execution_list = []
    dag.analyze()
    assert dag.execution_list == [(1, "second"), (1, "third"), (2, "best")]


def test_build_execution_tree_recursive_follows_inputs_whatever_the_cache(mapped):
    dag, records, _ = mapped
    tree = dag.build_execution_tree_recursive(records[0], "third")
    chain = []
    node = tree
    while node.dependencies:
        chain.append(node.chain_rep())
        node = node.dependencies[0]
    chain.append(node.chain_rep())
    assert chain == [(0, "third"), (0, "second"), (0, "first")]
    assert node.parent.chain_rep() == (0, "second")
    with pytest.raises(StageDefinitionError, match="was not called"):
        dag.build_execution_tree_recursive(records[0], "train")


def test_determine_execution_list_recursive_tells_whether_a_node_runs(mapped):
    dag, _, _ = mapped
    root = dag.execution_trees[0]
    assert dag.determine_execution_list_recursive(root) is True
    cached = next(d for d in root.dependencies if d.record_index == 0)
    assert dag.determine_execution_list_recursive(cached) is False
    assert dag.determine_execution_list_recursive(root, overwrite_check_only=True) is False


def test_overwrite_check_only_sees_an_overwrite_below(tmp_path):
    reset_counts()
    manager = ArtifactManager("pi", str(tmp_path / "exp"), dry=True, overwrite={"first"})
    dag = DAG([pipeline(manager.record({"a": 1, "b": 1, "c": 1}))])
    assert dag.determine_execution_list_recursive(dag.execution_trees[0], True) is True


def test_child_records_are_those_taking_a_records_outputs(mapped):
    dag, records, summary = mapped
    assert dag.child_records(records[0]) == [summary]
    assert dag.child_records(summary) == []


def test_is_output_used_anywhere(mapped):
    dag, records, summary = mapped
    assert dag.is_output_used_anywhere(records[0], 0, "first")  # by its own second
    assert not dag.is_output_used_anywhere(records[0], 2, "first")  # not from index 2 on
    assert dag.is_output_used_anywhere(records[1], 3, "third")  # by the aggregate
    assert not dag.is_output_used_anywhere(summary, 0, "best")


def test_get_record_string_shows_stages_status_and_keys(mapped):
    dag, records, _ = mapped
    lines = dag.get_record_string(1).splitlines()
    assert lines[0].startswith(f"record {records[1].key[:12]}")
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["first", "second", "third"]
    assert lines[2].startswith("  second: run (no artifact with key")
    assert lines[3].startswith("  third: run") and lines[3].endswith("]")  # [third <key>]
    assert "cached" in dag.get_record_string(0).splitlines()[3]


def test_print_experiment_map_prints_every_record(mapped, capsys):
    dag, _, _ = mapped
    dag.print_experiment_map()
    out = capsys.readouterr().out
    assert "experiment map: 3 record(s)" in out and "best" in out


def test_artifacts_list_every_output_with_the_status_of_its_maker(mapped):
    dag, _, _ = mapped
    found = {(a["record"], a["stage"], a["name"]): a for a in dag.artifacts}
    assert found[(2, "best", "best")]["status"] == "run"
    assert found[(0, "third", "third")]["status"] == "cached"
    assert found[(1, "first", "first")]["status"] in ("cached", "skipped")
    keys = {a["key"] for a in dag.artifacts}
    assert len(keys) == len(found) - 1  # records 0 and 1 share their `first` artifact


def test_execution_node_is_made_from_a_record_and_a_stage_name(mapped):
    _, records, _ = mapped
    node = ExecutionNode(records[1], "second")
    assert node.chain_rep() == (-1, "second")  # outside a DAG, no record index
    assert node.dependencies == [] and node.parent is None
    assert node.string_rep(2).startswith("    second")
    with pytest.raises(StageDefinitionError):
        ExecutionNode(records[1], "train")


def test_string_rep_nests_the_dependencies(mapped):
    dag, _, _ = mapped
    lines = dag.execution_trees[0].string_rep().splitlines()
    assert lines[0].startswith("best: run")
    assert lines[1].startswith("  third") and lines[2].startswith("    second")
