"""`python -m rapport_local up [--deps-only]` and `python -m rapport_local env [SERVICE]`."""

from __future__ import annotations

import argparse

from rapport_local.stack import SERVICES_BY_NAME, env_lines, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rapport_local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the dependencies and every service; Ctrl-C stops")
    p_up.add_argument("--deps-only", action="store_true", help="only NATS, OpenBao and SecantusDB")
    p_env = sub.add_parser("env", help="print export lines to run a service by hand")
    p_env.add_argument("service", nargs="?", choices=sorted(SERVICES_BY_NAME))
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(deps_only=args.deps_only)
    print("\n".join(env_lines(args.service)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
