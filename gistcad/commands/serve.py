"""``gistcad serve``: start the Streamlit dashboard."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from gistcad.config import load_settings
from gistcad.errors import ConfigError
from gistcad.store import migrations

APP_PATH = Path(__file__).resolve().parents[2] / "app.py"
LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1")


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="start the dashboard (Streamlit)")
    parser.add_argument(
        "--address", default="localhost", help="address to bind (default: localhost only)"
    )
    parser.add_argument("--port", type=int, default=8501, help="port (default: 8501)")
    parser.set_defaults(handler=_serve)


def streamlit_command(address: str, port: int) -> list[str]:
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
        # app.py draws its own menu; Streamlit's automatic listing of pages/ would duplicate it
        "--client.showSidebarNavigation",
        "false",
    ]


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrations.ready_engine(settings.db_url).dispose()
    if args.address not in LOCAL_ADDRESSES:
        raise ConfigError(
            f"refusing to serve on {args.address!r}: this version has no login yet, so the "
            "dashboard may only listen on localhost"
        )
    print(f"gistcad dashboard on http://{args.address}:{args.port} (Ctrl+C to stop)")
    env = dict(os.environ)
    env["GISTCAD_DATA_DIR"] = str(settings.data_dir)
    return subprocess.call(streamlit_command(args.address, args.port), env=env)
