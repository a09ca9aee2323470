"""``python -m lsp_server [--tcp HOST:PORT] [--log-file PATH] [-v]``: run the EditSeq language server."""

from __future__ import annotations

import argparse
import logging
import sys

SWITCH_INTERVAL_S = 0.001


def parse_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT`` for localhost) as a (host, port) pair."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="editseq serve", description="Run the EditSeq language server (stdio)."
    )
    parser.add_argument(
        "--tcp", type=parse_address, metavar="HOST:PORT", help="listen on TCP instead of stdio"
    )
    parser.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    parser.add_argument("--log-file", help="write the server log here instead of stderr")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: LSP traffic too)"
    )
    args = parser.parse_args(argv)

    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    logging.basicConfig(
        level=level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pygls logs every message body at INFO; on a 5,000-line file that is most of the CPU time.
    logging.getLogger("pygls").setLevel(logging.DEBUG if args.verbose > 1 else logging.WARNING)

    # The event loop shares the GIL with the model thread, whose suggestion validation runs pyflakes in Python for
    # a tenth of a second at a time on a big buffer: hand the GIL over every millisecond instead of every five, or
    # each message the loop reads or writes meanwhile waits up to 5 ms (benchmarks/lsp_latency.py, diagnostics
    # while the model prefetches).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    from lsp_server.server import server

    if args.tcp:
        server.start_tcp(*args.tcp)
    else:
        server.start_io()


if __name__ == "__main__":
    main()
