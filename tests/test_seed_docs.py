"""The migration guides list every documented name of the seed APIs (issue 17)."""

from __future__ import annotations

import os
import re

import pytest

from tests.dag import test_seed_artifact_manager, test_seed_dag, test_seed_mltraq_state
from tests.engine import test_seed_execo
from tests.store import test_manager_store

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")

GUIDES = {
    "migrating-from-curifactory.md": [
        *test_seed_artifact_manager.NAMES,
        *test_manager_store.NAMES,
        *test_manager_store.DOCUMENTED_BLOCK_KEYS,
        *test_seed_dag.DAG_NAMES,
        *test_seed_dag.NODE_NAMES,
    ],
    "migrating-from-execo.md": [
        *test_seed_execo.SWEEPER_METHODS,
        *test_seed_execo.ENGINE_NAMES,
        *test_seed_execo.FUNCTIONS,
    ],
    "migrating-from-mltraq.md": [
        *test_seed_mltraq_state.EXPERIMENT_STATE,
        *test_seed_mltraq_state.RUN_STATE,
    ],
}


@pytest.mark.parametrize("guide", sorted(GUIDES))
def test_guide_names_every_documented_name(guide):
    with open(os.path.join(DOCS, guide), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # fenced examples are not the table
    code = " ".join(re.findall(r"`([^`]+)`", text))  # the names a guide shows as code
    missing = [n for n in GUIDES[guide] if not re.search(rf"\b{re.escape(n)}\b", code)]
    assert not missing, f"{guide} does not list {missing}"


def test_mltraq_guide_is_in_the_site_navigation():
    with open(os.path.join(os.path.dirname(DOCS), "mkdocs.yml"), encoding="utf-8") as f:
        assert "migrating-from-mltraq.md" in f.read()
