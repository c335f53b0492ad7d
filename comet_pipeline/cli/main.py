"""``comet-pipeline``: the command line.

comet-pipeline demo [--hours N]            ingest the last N hours through Dagster, summarise
comet-pipeline init                        create COMET_HOME and its lifecycle store
comet-pipeline store rebuild [--new]       re-register raw files in an emptied store
comet-pipeline status                      slots and files by state
comet-pipeline frames --detector c3 ...    processed frames in time order (playback list)
comet-pipeline simulate-archive --port P   serve the simulated archive over HTTP on loopback
               [--profile NAME --seed S]   ... with a named sky profile (default nominal)
comet-pipeline evaluate [--profiles P,..] [--seeds S,..]  hunting measured on sky profiles
comet-pipeline serve [--host H] [--port P]  the hunter's viewer (page and API) on loopback
comet-pipeline token create NAME           a bearer token for the viewer's writes (shown once)
comet-pipeline token list | revoke NAME    the live tokens' names; revoke one
comet-pipeline export {files,frames,candidates,detections} [--format F]  astropy tables
comet-pipeline scan [--repair]             reconcile disk and store (missing, unknown, corrupt)
comet-pipeline archive search --detector c3 --since D [--until D]  images per day (indexes only)
comet-pipeline recipes list | run NAME     the processing presets; ingest with one
comet-pipeline analyse region|lightcurve|sources|stats  measure frames and candidates
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import ModuleType

from comet_pipeline.domain import Detector, from_iso, utcnow
from comet_pipeline.settings import Settings, SettingsError, get_settings


def _time_arg(text: str) -> datetime:
    """ISO date or time; naive input is taken as UTC (that is what hunters write)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {text!r}") from exc
    return from_iso(value.isoformat() + ("" if value.tzinfo else "+00:00"))


def _positive_int(text: str) -> int:
    """A count option; argparse prefixes the message with the option (``argument --hours:``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    """Comma-separated integers (``--seeds 101,202``)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {text!r}")
    return values


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from comet_pipeline.evaluation.grid import (
        HELD_OUT_SEEDS,
        evaluate_grid,
        format_grid,
        print_progress,
    )
    from comet_pipeline.evaluation.harness import Source, format_report
    from comet_pipeline.simulator.profiles import get_profile, profile_names

    names = profile_names() if args.profiles == "all" else args.profiles.split(",")
    try:
        names = [get_profile(n.strip()).name for n in names]
    except ValueError as exc:
        print(f"comet-pipeline: {exc}", file=sys.stderr)
        return 2
    seeds = args.seeds or list(HELD_OUT_SEEDS)
    source = Source.PRODUCTS if args.through_products else Source.MEMORY
    reports = evaluate_grid(
        names, seeds, days=args.days, jobs=args.jobs, progress=print_progress, source=source
    )
    if args.json:
        for r in reports:
            print(json.dumps(r.as_dict()))
        return 0
    if len(reports) == 1:
        print(format_report(reports[0]))
        print()
    print(format_grid(reports))
    return 0


def _simulate_archive(args: argparse.Namespace) -> int:
    import errno

    from comet_pipeline.simulator.profiles import get_profile
    from comet_pipeline.simulator.server import faults_from_options, serve_forever

    try:
        get_profile(args.profile)
    except ValueError as exc:  # an unknown profile: one line naming the valid ones
        print(f"comet-pipeline: {exc}", file=sys.stderr)
        return 2
    faults = faults_from_options(args)
    try:
        serve_forever(
            host=args.host,
            port=args.port,
            seed=args.seed,
            faults=faults,
            profile=args.profile,
        )
    except OSError as exc:  # binding the port: one line, no traceback
        if exc.errno == errno.EADDRINUSE:
            reason = f"port {args.port} is in use; try --port 0 or another port"
        else:
            reason = f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
        print(f"comet-pipeline: {reason}", file=sys.stderr)
        return 2
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import errno
    from functools import partial

    from comet_pipeline.store import open_store
    from comet_pipeline.viewer import build_app
    from comet_pipeline.viewer.server import bind, is_loopback, serve, url_of

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:  # a busy port or a bad host: one line, no traceback
        if exc.errno == errno.EADDRINUSE:
            reason = f"port {args.port} is in use; try --port 0 or another port"
        else:
            reason = f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
        print(f"comet-pipeline: {reason}", file=sys.stderr)
        return 2
    # reads go through a read-only handle (a home it may not write still serves; for
    # PostgreSQL, read-only sessions); verdicts open the store writably on first use.
    # Beyond loopback, reads want a token too.
    public = not is_loopback(sock)
    app = build_app(
        settings,
        partial(open_store, read_only=True),
        open_writer=open_store,
        reads_need_token=public,
    )
    url = url_of(sock)
    print(f"comet-pipeline viewer: {url} (API: {url}api/health, documented at {url}docs)")
    if public:
        print(
            "comet-pipeline: listening beyond loopback, so every request needs a token "
            "(`comet-pipeline token create NAME`)",
            file=sys.stderr,
        )
    sys.stdout.flush()
    serve(app, sock)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="comet-pipeline", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="ingest the last N hours through Dagster and summarise")
    demo.add_argument("--hours", type=_positive_int, default=6)
    demo.add_argument(
        "--until", type=_time_arg, default=None, help="end of the window (UTC; default now)"
    )

    sub.add_parser("init", help="create COMET_HOME and its lifecycle store (says so)")
    store = sub.add_parser("store", help="repair the lifecycle store")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    rebuild = store_sub.add_parser(
        "rebuild", help="re-register the raw files on disk in an empty or lost store"
    )
    rebuild.add_argument(
        "--new",
        action="store_true",
        help="instead, set the old database and the files aside and start a new store",
    )

    sub.add_parser("status", help="slots and files by state")

    frames = sub.add_parser("frames", help="processed frames in time order")
    frames.add_argument("--detector", choices=[d.value for d in Detector], required=True)
    frames.add_argument("--since", type=_time_arg, default=None)
    frames.add_argument("--until", type=_time_arg, default=None)

    sim = sub.add_parser("simulate-archive", help="serve the simulated archive over HTTP")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--profile",
        default="nominal",
        help="sky profile: nominal, sparse, dense, rolled, storm, defects, active, noisy, "
        "hostile (see comet_pipeline/simulator/profiles.py)",
    )
    sim.add_argument("--error-rate", type=float, default=0.0, help="fraction of 503 answers")
    sim.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    sim.add_argument("--truncate-rate", type=float, default=0.0, help="fraction of cut bodies")
    sim.add_argument("--corrupt", nargs="*", default=[], help="file names served garbled")
    sim.add_argument("--missing", nargs="*", default=[], help="file names listed but 404")
    sim.add_argument("--malformed-index", action="store_true", help="junk lines in img_hdr.txt")
    sim.add_argument("--hostile-names", action="store_true", help="hostile names in the indexes")

    ev = sub.add_parser(
        "evaluate",
        help="measure comet detection on the simulated archive over sky profiles x seeds",
    )
    ev.add_argument("--days", type=_positive_int, default=1, help="days per profile and seed")
    ev.add_argument(
        "--seeds",
        type=_int_list,
        default=None,
        help="comma-separated seeds (default: the held-out seeds 101,202,303)",
    )
    ev.add_argument(
        "--profiles",
        default="all",
        help="comma-separated sky profiles, or 'all' (default)",
    )
    ev.add_argument("--jobs", type=_positive_int, default=2, help="worker processes")
    ev.add_argument("--json", action="store_true", help="print one JSON object per run")
    ev.add_argument(
        "--through-products",
        action="store_true",
        help="write every frame with the real FrameProcessor (compact .fits.fz products, in a "
        "temporary folder) and hunt the .bgsub.fits.fz read back as the hourly hunt does: "
        "measures the detector on what the deployed pipeline sees, quantisation included "
        "(default: frames kept in memory; slower)",
    )

    token = sub.add_parser("token", help="the viewer's bearer tokens (for verdicts)")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="make a token, print it once (stdout)")
    create.add_argument("name", help="who it is for, e.g. your name")
    token_sub.add_parser("list", help="names of the live tokens")
    revoke = token_sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")

    srv = sub.add_parser("serve", help="serve the hunter's viewer (page and API) over HTTP")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    srv.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    for module in _command_modules():
        module.add_parser(sub)
    return parser


#: Commands in modules of their own (``NAME``, ``add_parser(sub)``, ``run(args, settings)``),
#: imported when the parser is built: they import this module's argument types.
_COMMAND_MODULES = ("export", "scan", "archive", "recipes", "analysis")


def _command_modules() -> list[ModuleType]:
    return [importlib.import_module(f"comet_pipeline.cli.{name}") for name in _COMMAND_MODULES]


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from comet_pipeline.cli.demo import run_demo

    return run_demo(settings, hours=args.hours, until=args.until or utcnow())


def _home(args: argparse.Namespace, settings: Settings) -> int:
    from comet_pipeline.cli.home import init_home, rebuild_store

    if args.command == "init":
        return init_home(settings)
    return rebuild_store(settings, new=args.new)


def _status(_args: argparse.Namespace, settings: Settings) -> int:
    from comet_pipeline.cli.reports import print_status

    return print_status(settings)


def _frames(args: argparse.Namespace, settings: Settings) -> int:
    from comet_pipeline.cli.reports import print_frames

    until = args.until or utcnow() + timedelta(hours=1)
    since = args.since or until - timedelta(days=1)
    if since >= until:
        print("comet-pipeline: --since must be before --until", file=sys.stderr)
        return 2
    return print_frames(settings, Detector(args.detector), since, until)


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from comet_pipeline.cli import tokens

    if args.token_command == "create":
        return tokens.create_token(settings, args.name)
    if args.token_command == "list":
        return tokens.list_tokens(settings)
    return tokens.revoke_token(settings, args.name)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "demo": _demo,
    "init": _home,
    "store": _home,
    "status": _status,
    "frames": _frames,
    "simulate-archive": lambda args, _settings: _simulate_archive(args),
    "evaluate": lambda args, _settings: _evaluate(args),
    "serve": _serve,
    "token": _token,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"comet-pipeline: {exc}", file=sys.stderr)
        return 2
    command = _COMMANDS.get(args.command)
    if command is None:
        (module,) = [m for m in _command_modules() if args.command == m.NAME]
        return int(module.run(args, settings))
    return command(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
