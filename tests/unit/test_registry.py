"""The registries agree with each other and with the docs: every cause module has a rule, every cause a lab scenario
that shows it and a line in docs/json.md; every lab scenario a row in docs/usage.md."""
import os
import re

from netdrop import lab as L
from netdrop.diagnose.causes import MODULES
from netdrop.diagnose.rules import CAUSES, RULES

from ..conftest import ROOT


def _doc(name):
    with open(os.path.join(ROOT, "docs", name)) as f:
        return f.read()


def test_one_rule_per_cause_module_and_no_reason_claimed_twice():
    assert len(MODULES) == len(RULES) == len(set(CAUSES))
    reasons = [r for rule in RULES for r in rule.reasons]
    assert len(reasons) == len(set(reasons))


def test_json_docs_list_every_cause_and_its_fields():
    doc = _doc("json.md")
    listed = re.search(r"^- Causes: (.*?)\.$", doc, re.M | re.S).group(1)
    assert re.findall(r"`([a-z0-9-]+)`", listed) == list(CAUSES)
    for cause in CAUSES:
        assert re.search(rf"^  - `{cause}`: ", doc, re.M), f"docs/json.md has no field list for {cause}"


def test_every_cause_has_a_scenario_that_shows_it():
    shown = {c for s in L.REGISTRY.values() for c, _ in s.causes}
    assert shown == set(CAUSES)


def test_usage_docs_have_a_row_per_scenario():
    rows = set(re.findall(r"^\| ([a-z0-9-]+) \|", _doc("usage.md"), re.M))
    assert set(L.REGISTRY) <= rows
