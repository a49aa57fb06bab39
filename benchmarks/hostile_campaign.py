"""The hostile-input and fault campaign: N generated cases, one verdict each, by rules.

    python benchmarks/hostile_campaign.py --cases=60 --seed=0 [--workdir=DIR] [--only=I]
        [--families=array,folder,...]

Prints one line per case, then "N cases, N clean, N defects" and each defect with the
command that reruns it alone (`--only=I` with the same --seed and --cases). The cases and
the rules are in tests/campaign.py (see its docstring); Hypothesis draws the inputs from the
seed. Kill, full-disk and read-only cases start subprocesses and mount tmpfs folders (root
only; skipped, and counted as skipped, where mounting is not permitted).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
import campaign  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="kept when given (else removed)")
    parser.add_argument("--only", type=int, default=None, help="run case I alone")
    parser.add_argument("--families", default=",".join(campaign.FAMILIES))
    args = parser.parse_args()
    if args.cases < 1:
        parser.error(f"--cases={args.cases}: expected a positive number")
    families = tuple(f for f in args.families.split(",") if f)
    unknown = sorted(set(families) - set(campaign.FAMILIES))
    if unknown:
        parser.error(f"--families: unknown {unknown}; expected some of {campaign.FAMILIES}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    workdir = args.workdir or tempfile.mkdtemp(prefix="gan_tf_campaign_")
    os.environ.setdefault("GAN_TF_CACHE", os.path.join(workdir, "cache"))
    started = time.monotonic()
    try:
        results = campaign.run_campaign(args.cases, args.seed, workdir, families,
                                        log=lambda line: print(line, flush=True),
                                        only=args.only)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{campaign.summary(results, args.seed)}")
    print(f"({time.monotonic() - started:.0f} s; seed {args.seed})")
    return 1 if any(not v.clean for _, _, v, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
