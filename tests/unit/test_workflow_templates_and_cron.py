"""Sandboxed templates, cron parsing and time zones (DST), deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from praisonai_svc.workflows.cron import CronError, due_between, next_due, next_runs, parse_cron
from praisonai_svc.workflows.ids import child_job_id, cron_execution_id, file_trigger_id, new_execution_id
from praisonai_svc.workflows.templates import TemplateFailed, render_value

SCOPE = {
    "trigger": {"file_id": "f1", "n": 3},
    "steps": {"text": {"metadata": {"columns": ["city", "sales"]}}, "deck": {"download_url": "https://x/d"}},
    "workflow": {"id": "wf1", "name": "Deck"},
    "execution": {"id": "e1"},
}


def test_templates_render_values_keeping_types() -> None:
    rendered = render_value({"title": "{{ steps.text.metadata.columns[0] }}", "n": "{{ trigger.n + 1 }}",
                             "cols": "{{ steps.text.metadata.columns }}", "text": "run {{ execution.id }} of "
                             "{{ workflow.name }}", "plain": "no template", "list": ["{{ trigger.file_id }}", 2]},
                            SCOPE)
    assert rendered == {"title": "city", "n": 4, "cols": ["city", "sales"], "text": "run e1 of Deck",
                        "plain": "no template", "list": ["f1", 2]}


def test_undefined_names_fail_with_the_place_and_the_name() -> None:
    with pytest.raises(TemplateFailed, match=r"payload\.url: template .* 'dict object' has no attribute 'deck2'"):
        render_value({"url": "{{ steps.deck2.download_url }}"}, SCOPE, where="payload")
    with pytest.raises(TemplateFailed, match="'nothing' is undefined"):
        render_value("hello {{ nothing }}", SCOPE)
    with pytest.raises(TemplateFailed, match="failed"):
        render_value("{{ 1 / 0 }}", SCOPE)
    with pytest.raises(TemplateFailed, match="failed"):
        render_value("{{ unclosed", SCOPE)


@pytest.mark.parametrize("escape", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "x {{ ''.__class__.__mro__ }} y",
    "{{ trigger.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
    "{{ range(10**9) | list }}",
])
def test_sandbox_escapes_are_refused(escape: str) -> None:
    with pytest.raises(TemplateFailed):
        render_value(escape, SCOPE)


def test_a_template_cannot_hand_back_live_objects() -> None:
    with pytest.raises(TemplateFailed, match="not a JSON value"):
        render_value("{{ trigger.items }}", SCOPE)


def test_cron_five_and_six_fields() -> None:
    assert parse_cron(" 0  9 * * 1-5 ") == "0 9 * * 1-5"
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday
    assert next_due("0 9 * * 1-5", "UTC", start) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    every_two = next_runs("* * * * * */2", "UTC", count=3, after=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert every_two == [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in (2, 4, 6)]
    with pytest.raises(CronError, match="5 fields"):
        parse_cron("* * * *")
    with pytest.raises(CronError, match="not a valid cron"):
        parse_cron("61 * * * *")
    with pytest.raises(CronError, match="Unknown time zone"):
        next_due("* * * * *", "Nowhere/Land", start)


def test_cron_in_a_time_zone() -> None:
    # 09:00 in New York in January is 14:00 UTC, in July 13:00 UTC.
    assert next_due("0 9 * * *", "America/New_York", datetime(2026, 1, 10, tzinfo=UTC)) == datetime(
        2026, 1, 10, 14, 0, tzinfo=UTC)
    assert next_due("0 9 * * *", "America/New_York", datetime(2026, 7, 10, tzinfo=UTC)) == datetime(
        2026, 7, 10, 13, 0, tzinfo=UTC)


def test_london_0130_on_the_spring_forward_day_fires_once() -> None:
    # 2026-03-29: clocks go 01:00 GMT → 02:00 BST, so 01:30 local does not exist; it fires once, at 01:30 GMT.
    runs = next_runs("30 1 * * *", "Europe/London", count=3, after=datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert runs == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # the 28th's was before `after`
                    datetime(2026, 3, 30, 0, 30, tzinfo=UTC),  # 01:30 BST
                    datetime(2026, 3, 31, 0, 30, tzinfo=UTC)]
    before = next_due("30 1 * * *", "Europe/London", datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    assert before == datetime(2026, 3, 28, 1, 30, tzinfo=UTC)  # 01:30 GMT the day before
    day = due_between("30 1 * * *", "Europe/London", datetime(2026, 3, 29, tzinfo=UTC),
                      datetime(2026, 3, 29, 23, 59, tzinfo=UTC))
    assert day == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]


def test_london_0130_on_the_fall_back_day_fires_once() -> None:
    # 2026-10-25: clocks go 02:00 BST → 01:00 GMT, so 01:30 local happens twice; it fires once, the first time.
    day = due_between("30 1 * * *", "Europe/London", datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
                      datetime(2026, 10, 25, 23, 0, tzinfo=UTC))
    assert day == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    # Asking again from inside the repeated hour does not fire it a second time.
    assert next_due("30 1 * * *", "Europe/London", datetime(2026, 10, 25, 1, 10, tzinfo=UTC)) == datetime(
        2026, 10, 26, 1, 30, tzinfo=UTC)


def test_sub_minute_cron_across_the_spring_gap_stays_in_order() -> None:
    start = datetime(2026, 3, 29, 0, 59, 50, tzinfo=UTC)
    runs = due_between("* * * * * */10", "Europe/London", start, start + timedelta(seconds=40))
    assert runs == [start + timedelta(seconds=s) for s in (10, 20, 30, 40)]


def test_deterministic_ids() -> None:
    due = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert cron_execution_id("wf1", due) == cron_execution_id("wf1", due.replace(microsecond=500))
    assert cron_execution_id("wf1", due) != cron_execution_id("wf2", due)
    assert cron_execution_id("wf1", due) != cron_execution_id("wf1", due + timedelta(seconds=2))
    # newer due times sort first (ascending ids list newest first)
    assert cron_execution_id("wf1", due + timedelta(seconds=2)) < cron_execution_id("wf1", due)
    now = datetime.now(UTC)
    assert new_execution_id(now + timedelta(seconds=1)) < new_execution_id(now)
    assert file_trigger_id("wf", "f", "file_processed") == file_trigger_id("wf", "f", "file_processed")
    assert file_trigger_id("wf", "f", "file_processed") != file_trigger_id("wf", "f", "file_upload")
    assert child_job_id("e", "s") == child_job_id("e", "s") != child_job_id("e", "t")
