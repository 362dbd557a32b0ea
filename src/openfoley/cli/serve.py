"""``openfoley serve``: the web page (upload a video, generate its sound, watch it back).

A thin layer over ``openfoley.serve.serve``. Gradio (the ``[demo]`` extra) is imported only when the
command runs; without it the command fails in a second with one line naming the extra. SIGTERM stops
the server as Ctrl-C does, so its temporary files are removed either way.
"""

from __future__ import annotations

import argparse
import signal
import sys

from openfoley.serve import ServeOptions, serve

_D = ServeOptions()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="web page: upload a video, generate its sound, watch it back",
                       description="Serve a web page where a video can be uploaded, its sound generated, and "
                                   "the result watched and downloaded. Needs: pip install 'openfoley[demo]'.")
    p.add_argument("--host", default=_D.host,
                   help="address to bind (default: %(default)s, this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=_D.port, help="port (default: %(default)s)")
    p.add_argument("--model", default=_D.model, help="weights folder, or 'builtin' (default)")
    p.add_argument("--device", default=_D.device, help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--max-mb", type=float, default=_D.max_mb,
                   help="largest upload in MB (10^6 bytes) (default: %(default)g)")
    p.add_argument("--max-seconds", type=float, default=_D.max_seconds,
                   help="longest upload in seconds (default: %(default)g)")
    p.add_argument("--max-steps", type=int, default=_D.max_steps,
                   help="upper end of the steps slider (default: %(default)s)")
    p.add_argument("--queue-size", type=int, default=_D.queue_size,
                   help="requests that may wait for the model before new ones are refused (default: %(default)s)")
    p.set_defaults(func=run)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    options = ServeOptions(host=args.host, port=args.port, model=args.model, device=args.device,
                           max_mb=args.max_mb, max_seconds=args.max_seconds, max_steps=args.max_steps,
                           queue_size=args.queue_size)
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        serve(options, ready=lambda url: print(f"openfoley serve: running on {url} (Ctrl-C to stop)", flush=True))
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("openfoley serve: stopped", file=sys.stderr)
    return 0
