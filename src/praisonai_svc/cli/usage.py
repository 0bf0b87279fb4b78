"""``usage``: a service's metered usage as a table per tenant and service, and a small chart of jobs per period."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from praisonai_svc.cli.remote import client_for
from praisonai_svc.client import ClientError, UsageReport

console = Console()
BAR_WIDTH = 40


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    return f"{count:,.1f} GB"  # pragma: no cover (the loop returns)


def usage_table(report: UsageReport) -> Table:
    table = Table(title=f"Usage {report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} UTC")
    for column in ("tenant", "service", "submitted", "done", "failed", "handler s", "in", "out", "est. USD"):
        table.add_column(column, justify="left" if column in ("tenant", "service") else "right")
    per_service: dict[tuple[str, str], list[float]] = {}
    for row in report.rows:
        sums = per_service.setdefault((row.tenant, row.service), [0, 0, 0, 0.0, 0, 0])
        for index, value in enumerate((row.jobs_submitted, row.jobs_done, row.jobs_failed, row.handler_seconds,
                                       row.bytes_in, row.bytes_out)):
            sums[index] += value
    for (tenant, service), sums in sorted(per_service.items()):
        cost = report.cost_estimate.get(tenant, {}).get("total_usd", 0.0)
        table.add_row(tenant, service, *(f"{int(v):,}" for v in sums[:3]), f"{sums[3]:,.1f}", _size(sums[4]),
                      _size(sums[5]), f"{cost:.4f}")
    table.caption = report.cost_note
    return table


def jobs_chart(report: UsageReport) -> list[str]:
    """One line per period: a bar of finished jobs (█ done, ▒ failed) and the counts."""
    periods: dict[str, tuple[int, int]] = {}
    for row in report.rows:
        done, failed = periods.get(row.period, (0, 0))
        periods[row.period] = (done + row.jobs_done, failed + row.jobs_failed)
    peak = max((done + failed for done, failed in periods.values()), default=0) or 1
    lines = []
    for period, (done, failed) in sorted(periods.items()):
        bar = "█" * round(done / peak * BAR_WIDTH) + "▒" * round(failed / peak * BAR_WIDTH)
        label = period[:13].replace("T", " ") if report.granularity == "hour" else period[:10]
        lines.append(f"{label:<13} {bar:<{BAR_WIDTH}} {done} done, {failed} failed")
    return lines


@click.command()
@click.option("--url", envvar="PRAISONAI_URL", default="http://127.0.0.1:8080", show_default=True,
              show_envvar=True, help="Base URL of the service.")
@click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
              help="API key (a tenant's key shows only that tenant).")
@click.option("--admin-key", envvar="PRAISONAI_ADMIN_KEY", show_envvar=True, default=None,
              help="Admin key: everyone's usage.")
@click.option("--from", "start", default=None, help="Start, ISO-8601 (default: 7 days ago).")
@click.option("--to", "end", default=None, help="End, ISO-8601, exclusive (default: now).")
@click.option("--tenant", default=None, help="Only this tenant.")
@click.option("--service", default=None, help="Only this service.")
@click.option("--granularity", type=click.Choice(["hour", "day"]), default="day", show_default=True)
def usage(url: str, api_key: str | None, admin_key: str | None, start: str | None, end: str | None,
          tenant: str | None, service: str | None, granularity: str) -> None:
    """Show metered usage per tenant and service, with a chart of finished jobs per period."""
    try:
        with client_for(url, api_key, admin_key) as client:
            report = client.usage(start=start, end=end, tenant=tenant, service=service, granularity=granularity)
    except ClientError as exc:
        raise click.ClickException(exc.message) from exc
    if not report.rows:
        console.print("No usage in this range.")
        return
    console.print(usage_table(report))
    console.print("\n[bold]Finished jobs[/bold] (█ done ▒ failed)")
    for line in jobs_chart(report):
        console.print(line, highlight=False)
