"""``gistcad serve``: start the Streamlit dashboard, secure by default.

On localhost a single-user workstation may run without login. Bound to any other address the
server refuses to start (exit status 2, one line saying why) until login is on
(``--auth local`` or ``--auth oidc``) and someone could administer it: an enabled admin
account, or an identity-provider rule that gives the admin role. ``--auth local`` with no
admin is refused on localhost too, as no one could sign in.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from gistcad.auth.oidc import parse_config
from gistcad.config import AuthMode, load_settings
from gistcad.errors import ConfigError
from gistcad.store import migrations, session_scope
from gistcad.store.accounts import count_active_admins

APP_PATH = Path(__file__).resolve().parents[2] / "app.py"
LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1")


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="start the dashboard (Streamlit)")
    parser.add_argument(
        "--address", default="localhost", help="address to bind (default: localhost only)"
    )
    parser.add_argument("--port", type=int, default=8501, help="port (default: 8501)")
    parser.add_argument(
        "--auth",
        choices=[m.value for m in AuthMode],
        help="login: none (single-user workstation, localhost only), local (gistcad users) "
        "or oidc (identity provider); default GISTCAD_AUTH, else none",
    )
    parser.add_argument(
        "--no-demo-worker",
        action="store_true",
        help="do not start the worker that trains queued demo models (see 'gistcad demo load')",
    )
    parser.set_defaults(handler=_serve)


def streamlit_command(address: str, port: int, auth: AuthMode = AuthMode.NONE) -> list[str]:
    """The command line that runs the dashboard."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # a served dashboard does not reload itself when files change
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        # app.py draws its own menu, in which each role sees only the pages it may use
        "--client.showSidebarNavigation",
        "false",
        # with accounts, data leave only through the audited, role-checked download buttons
        # (not through the tables' own CSV toolbar)
        "--client.disableDataExport",
        "false" if auth is AuthMode.NONE else "true",
    ]


def check_exposure(address: str, auth: AuthMode, engine: Engine, secrets: Path) -> None:
    """Refuse (ConfigError, one line) a server nobody could sign in to, or one open to all."""
    if auth is AuthMode.NONE:
        if address not in LOCAL_ADDRESSES:
            raise ConfigError(
                f"refusing to serve on {address!r} without login: use --auth local (after "
                "'gistcad users add NAME --role admin') or --auth oidc, or serve on localhost"
            )
        return
    if auth is AuthMode.LOCAL:
        with session_scope(engine) as session:
            if count_active_admins(session) == 0:
                raise ConfigError(
                    "refusing to serve with --auth local: no enabled admin account exists; "
                    "create one with 'gistcad users add NAME --role admin'"
                )
        return
    _check_oidc(secrets)


def _check_oidc(secrets: Path) -> None:
    if not secrets.is_file():
        raise ConfigError(
            f"refusing to serve with --auth oidc: {secrets} is missing; it needs the [auth] "
            "and [gistcad.oidc] sections described in the README"
        )
    try:
        content = tomllib.loads(secrets.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"refusing to serve: {secrets} is not valid TOML ({exc})") from None
    if not isinstance(content.get("auth"), dict) or "cookie_secret" not in content["auth"]:
        raise ConfigError(
            f"refusing to serve with --auth oidc: {secrets} has no [auth] section with "
            "redirect_uri, cookie_secret and the provider's client settings"
        )
    if not parse_config(content).has_admin_rule:
        raise ConfigError(
            f"refusing to serve with --auth oidc: no rule of [gistcad.oidc] in {secrets} "
            "gives the admin role, so no one could manage the dashboard"
        )


def start_demo_worker(engine: Engine, data_dir: Path) -> int | None:
    """Start the worker that trains the queued demo models, tied to this process (it stops
    when the server stops: :func:`gistcad.jobs.launch_tied`); None when nothing is queued."""
    from gistcad import jobs
    from gistcad.demo_models import queued_demo_jobs

    queued = queued_demo_jobs(engine)
    if not queued:
        return None
    pid = jobs.launch_tied(["jobs", "run", "--demo"], env={"GISTCAD_DATA_DIR": str(data_dir)})
    print(f"training {len(queued)} demo model(s) in the background (worker pid {pid})")
    return pid


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    auth = AuthMode(args.auth) if args.auth else settings.auth
    try:
        check_exposure(args.address, auth, engine, Path.cwd() / ".streamlit" / "secrets.toml")
        if not args.no_demo_worker:
            start_demo_worker(engine, settings.data_dir)
    finally:
        engine.dispose()
    mode = {
        AuthMode.NONE: "single-user workstation, no login",
        AuthMode.LOCAL: "login with gistcad accounts",
        AuthMode.OIDC: "login with the identity provider",
    }[auth]
    print(f"gistcad dashboard on http://{args.address}:{args.port} ({mode}; Ctrl+C to stop)")
    env = dict(os.environ)
    env["GISTCAD_DATA_DIR"] = str(settings.data_dir)
    env["GISTCAD_AUTH"] = auth.value
    command = streamlit_command(args.address, args.port, auth)
    # become the server (no child left behind when a service manager stops this process:
    # the demo worker gets SIGTERM when this process, the server after execve, ends)
    sys.stdout.flush()
    os.execve(command[0], command, env)
    return 0  # not reached: execve does not return
