"""``gistcad jobs``: run, list, restart and cancel background jobs (training, batch
prediction)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from gistcad import jobs
from gistcad.commands.access import caller_scope
from gistcad.commands.arguments import record_id
from gistcad.commands.hints import hint
from gistcad.config import load_settings
from gistcad.domain import JobStatus, Permission
from gistcad.errors import NotFoundError
from gistcad.store import migrations, session_scope

#: what a caller who named a job that does not exist can do
LIST_HINT = "'gistcad jobs list' shows the jobs"


def register(sub: Any) -> None:
    parser = sub.add_parser("jobs", help="background jobs started from the dashboard")
    actions = parser.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run one queued job (what the dashboard starts), or with --demo every queued "
        "demo model's job, one after another (what 'gistcad serve' starts)",
    )
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("job_id", type=record_id, nargs="?")
    which.add_argument("--demo", action="store_true", help="the queued demo model jobs")
    run.set_defaults(handler=_run)
    ls = actions.add_parser("list", help="the newest jobs")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)
    restart = actions.add_parser(
        "restart",
        help="queue a failed or cancelled job again (a new job, same parameters) and start it",
    )
    restart.add_argument("job_id", type=record_id)
    restart.add_argument(
        "--no-launch", action="store_true", help="only queue it; run it with 'gistcad jobs run'"
    )
    restart.set_defaults(handler=_restart)
    cancel = actions.add_parser(
        "cancel",
        help="cancel a queued or running job: its worker stops, nothing of the job is saved",
    )
    cancel.add_argument("job_id", type=record_id)
    cancel.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for a running job's worker to stop (default 30; 0: do not wait)",
    )
    cancel.set_defaults(handler=_cancel)


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    if args.demo:
        from gistcad.demo_models import run_demo_queue

        caller_scope(args, engine, settings).require(Permission.RUN_JOBS)
        endings = run_demo_queue(engine, settings.data_dir)
        for job_id, ending in endings.items():
            print(f"job {job_id}: {ending.value}")
        return 0 if all(e is JobStatus.SUCCEEDED for e in endings.values()) else 1
    scope = caller_scope(args, engine, settings)
    with hint(NotFoundError, LIST_HINT):
        status = jobs.run(engine, settings.data_dir, args.job_id, scope)
    print(f"job {args.job_id}: {status.value}")
    return 0 if status is JobStatus.SUCCEEDED else 1


def _list(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    from gistcad.store.model_queries import list_jobs  # pandas: only here

    jobs.reap_orphans(engine)
    with session_scope(engine) as session:
        table = list_jobs(session, scope)
    if args.json:
        print(table.to_json(orient="records", date_format="iso", indent=2))
    else:
        print(
            table[["job_id", "kind", "status", "progress", "message", "error"]].to_string(
                index=False
            )
        )

    return 0


def _restart(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with hint(NotFoundError, LIST_HINT):
        if args.no_launch:
            job_id = jobs.restart(engine, args.job_id, scope)
            run = f"gistcad jobs run {job_id}"
            print(f"job {job_id} queued (restart of job {args.job_id}); run: {run}")
            return 0
        job_id = jobs.restart_job(engine, args.job_id, scope, data_dir=settings.data_dir)
    print(f"job {job_id} started (restart of job {args.job_id})")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with hint(NotFoundError, LIST_HINT):
        status = jobs.cancel(engine, args.job_id, scope)
    deadline = time.monotonic() + max(args.wait, 0.0)
    while status is JobStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
        status = jobs.job_status(engine, args.job_id)
    if status is JobStatus.RUNNING:
        print(f"job {args.job_id}: cancel requested; its worker is stopping")
        return 0
    print(f"job {args.job_id}: {status.value}")
    return 0 if status is JobStatus.CANCELLED else 1
