"""A trivial sweep point for the tests: records its arguments, can fail or wait for a peer.

usage: python sweep_job.py x=<value> [peer=<file to wait for>]
Writes result.json into $GENMS_SWEEP_POINT_DIR and appends one line to runs.log beside this
file's parent folder (given as log=<path>). x=bad exits with status 3.
"""

import json
import os
import sys
import time
from pathlib import Path

args = dict(a.split("=", 1) for a in sys.argv[1:])
point_dir = Path(os.environ["GENMS_SWEEP_POINT_DIR"])
with open(args["log"], "a") as fh:
    fh.write(f"{args['x']}\n")
if "barrier" in args:  # wait (bounded) until every point of the sweep has started
    barrier = Path(args["barrier"])
    barrier.mkdir(exist_ok=True)
    (barrier / args["x"]).touch()
    deadline = time.time() + 120
    while len(list(barrier.iterdir())) < int(args["n"]) and time.time() < deadline:
        time.sleep(0.05)
    seen = len(list(barrier.iterdir()))
else:
    seen = 1
if args["x"] == "bad":
    sys.exit(3)
(point_dir / "result.json").write_text(json.dumps({"x": args["x"], "score": 2.0 * float(args["x"]),
                                                    "peers_seen": seen, "pid": os.getpid()}))
