"""Workflow definitions: validation errors that name the step and field, the seed's legacy shape, conditions."""

from __future__ import annotations

import pytest

from praisonai_svc.errors import PayloadError
from praisonai_svc.workflows.conditions import ConditionFailed, evaluate, next_after
from praisonai_svc.workflows.definition import (
    ConditionStep,
    CronTrigger,
    FileTrigger,
    HttpStep,
    JobStep,
    parse_definition,
)

ISSUE_EXAMPLE = {
    "name": "Deck from CSV", "description": "", "timeout_seconds": 300, "max_retries": 3, "is_enabled": True,
    "triggers": [{"type": "cron", "expression": "0 9 * * 1-5", "timezone": "Europe/London"},
                 {"type": "file_processed", "file_extensions": ["csv"], "mime_types": [], "max_file_size": 1048576}],
    "steps": [{"id": "text", "type": "file_process", "file_id": "{{ trigger.file_id }}"},
              {"id": "deck", "type": "job", "service": "ppt",
               "payload": {"presentation_title": "{{ steps.text.metadata.columns[0] }}"}},
              {"id": "tell", "type": "http", "method": "POST", "url": "https://hooks.example/x",
               "body": {"url": "{{ steps.deck.download_url }}"}}],
}


def test_the_issue_example_parses() -> None:
    definition = parse_definition(ISSUE_EXAMPLE)
    assert [step.id for step in definition.steps] == ["text", "deck", "tell"]
    assert isinstance(definition.steps[1], JobStep) and definition.steps[1].service == "ppt"
    assert isinstance(definition.steps[2], HttpStep) and definition.steps[2].method == "POST"
    assert definition.cron_triggers == [CronTrigger(expression="0 9 * * 1-5", timezone="Europe/London")]
    assert definition.file_triggers("file_processed")[0].file_extensions == ["csv"]
    assert definition.overlap == "skip" and definition.misfire_grace_seconds == 60


def test_errors_name_the_step_and_the_field() -> None:
    bad = {**ISSUE_EXAMPLE, "steps": [ISSUE_EXAMPLE["steps"][0], {"id": "deck", "type": "job", "payload": {}}]}
    with pytest.raises(PayloadError) as caught:
        parse_definition(bad)
    assert "steps[1] (deck).service: Field required" in str(caught.value)


def test_unknown_step_type_and_unknown_fields_are_refused() -> None:
    with pytest.raises(PayloadError, match=r"steps\[0\] \(x\)"):
        parse_definition({"name": "n", "steps": [{"id": "x", "type": "teleport"}]})
    with pytest.raises(PayloadError, match=r"steps\[0\] \(x\)\.colour: Extra inputs are not permitted"):
        parse_definition({"name": "n", "steps": [{"id": "x", "type": "log", "message": "m", "colour": "red"}]})


def test_duplicate_step_ids_and_dangling_goto_are_refused() -> None:
    with pytest.raises(PayloadError, match="used twice"):
        parse_definition({"name": "n", "steps": [{"id": "a", "type": "log", "message": "1"},
                                                 {"id": "a", "type": "log", "message": "2"}]})
    with pytest.raises(PayloadError, match=r"on_true: no step 'nowhere'"):
        parse_definition({"name": "n", "steps": [{"id": "c", "type": "condition", "left": 1,
                                                  "operator": "equals", "right": 1, "on_true": "goto:nowhere"}]})


def test_bad_cron_and_time_zone_are_refused_with_the_reason() -> None:
    with pytest.raises(PayloadError, match="has 3"):
        parse_definition({"name": "n", "triggers": [{"type": "cron", "expression": "* * *"}],
                          "steps": [{"id": "a", "type": "log", "message": "m"}]})
    with pytest.raises(PayloadError, match="Unknown time zone 'Mars/Olympus'"):
        parse_definition({"name": "n", "triggers": [{"type": "cron", "expression": "* * * * *",
                                                     "timezone": "Mars/Olympus"}],
                          "steps": [{"id": "a", "type": "log", "message": "m"}]})


def test_a_workflow_needs_steps_and_a_name() -> None:
    with pytest.raises(PayloadError, match="steps: List should have at least 1 item"):
        parse_definition({"name": "n", "steps": []})
    with pytest.raises(PayloadError, match="name: Field required"):
        parse_definition({"steps": [{"id": "a", "type": "log", "message": "m"}]})
    with pytest.raises(PayloadError, match="JSON object"):
        parse_definition(["not", "a", "mapping"])


def test_the_seed_legacy_shape_is_mapped() -> None:
    legacy = {
        "name": "Legacy", "cron_expression": "*/5 * * * *", "trigger_on_file_upload": True,
        "trigger_file_extensions": ["PDF", ".txt"],
        "config": {"steps": [{"action": "log", "message": "hello"}, {"type": "delay", "seconds": 1}]},
    }
    definition = parse_definition(legacy)
    assert [step.id for step in definition.steps] == ["step_1", "step_2"]
    assert definition.cron_triggers[0].expression == "*/5 * * * *"
    upload = definition.file_triggers("file_upload")
    assert upload == [FileTrigger(type="file_upload", file_extensions=["pdf", "txt"])]


def test_file_trigger_filters_by_extension_mime_and_size() -> None:
    trigger = FileTrigger(type="file_processed", file_extensions=["csv"], mime_types=["text/csv"],
                          max_file_size=100)
    assert trigger.matches("data.CSV", "text/csv; charset=utf-8", 100)
    assert not trigger.matches("data.txt", "text/csv", 10)
    assert not trigger.matches("data.csv", "text/plain", 10)
    assert not trigger.matches("data.csv", "text/csv", 101)
    assert FileTrigger(type="file_upload").matches("anything", "application/octet-stream", 10**9)


def test_condition_actions() -> None:
    step = ConditionStep(id="c", type="condition", left=1, operator="equals", on_true="goto: c", on_false="stop")
    assert step.on_true == "goto:c"
    assert next_after(step.on_true).goto == "c" and next_after(step.on_true).action == "goto"
    assert next_after("stop").action == "stop" and next_after("continue").goto is None
    with pytest.raises(ValueError, match="'continue', 'stop' or 'goto:<step id>'"):
        ConditionStep(id="c", type="condition", left=1, operator="equals", on_true="jump")


@pytest.mark.parametrize(("left", "operator", "right", "expected"), [
    ("abc", "equals", "abc", True), (3, "equals", "3", True), (3, "equals", 4, False),
    ("abc", "not_equals", "abd", True), ("x", "not_equals", "x", False),
    ("hello world", "contains", "world", True), (["a", "b"], "contains", "b", True), ({"k": 1}, "contains", "k", True),
    ("hello", "not_contains", "z", True), (["a"], "not_contains", "a", False),
    (5, "greater_than", 3, True), ("2.5", "greater_than", 3, False), (1, "less_than", "1.5", True),
    (2, "less_than", 2, False),
])
def test_condition_operators(left: object, operator: str, right: object, expected: bool) -> None:
    assert evaluate(left, operator, right) is expected


def test_condition_operator_errors_say_why() -> None:
    with pytest.raises(ConditionFailed, match="'abc' is not a number"):
        evaluate("abc", "greater_than", 1)
    with pytest.raises(ConditionFailed, match="boolean"):
        evaluate(True, "less_than", 1)
    with pytest.raises(ConditionFailed, match="not text, a list or an object"):
        evaluate(5, "contains", 1)
    with pytest.raises(ConditionFailed, match="Unknown operator"):
        evaluate(1, "between", 2)
