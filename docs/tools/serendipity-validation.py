#!/usr/bin/env python3
"""Serendipity table of the adjacent aim per plausibility, pooled over seeds.

usage: serendipity-validation.py DB MODEL SPLIT UNTIL SEEDS KIND:T [KIND:T ...]

Runs `indiv decide` (build/release/indiv; the trained MODEL, tau 0.05, relevance best,
serendipity 1, the adjacent aim, plausibility KIND at temperature T) once per seed
1..SEEDS, and measures, as `indiv evaluate`'s serendipity table does, the lists sent to
the known customers (a purchase before SPLIT): relevant offers and those bought in
[SPLIT, UNTIL), divergent offers placed, the share of them whose category is new to the
person and bought in the window, the share bought themselves, and their median
propensity. Each later KIND:T is compared with the first, per person (their share of
new-category hits among their divergent offers, over the seeds; mean of the paired
differences, standard error over the people). DB must hold profiles built as of SPLIT
with MODEL (docs/decisions.md, "Programmed serendipity", has the commands).
"""
import datetime as dt
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys

INDIV = os.environ.get("INDIV", "build/release/indiv")
PURCHASE = 2  # event_types.id of 'purchase'


def utc(s):
    return int(dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc).timestamp())


def truth(db, split, until):
    """Categories bought before split, and categories and offers bought in the window."""
    con = sqlite3.connect(db)
    cat = dict(con.execute("select o.ext_id, c.name from offers o "
                           "join categories c on c.id = o.category_id"))
    past, cats, offers = {}, {}, {}
    for who, offer, ts in con.execute(
            "select c.ext_id, o.ext_id, e.ts from events e join consumers c on "
            "c.id = e.consumer_id join offers o on o.id = e.offer_id "
            "where e.type = ? and e.ts < ?", (PURCHASE, utc(until))):
        if ts < utc(split):
            past.setdefault(who, set()).add(cat[offer])
        else:
            cats.setdefault(who, set()).add(cat[offer])
            offers.setdefault(who, set()).add(offer)
    return past, cats, offers


def run(args, kind, temp, seed, out):
    db, model, split = args[0], args[1], args[2]
    subprocess.run([INDIV, "decide", "--db", db, "--model", model, "--as-of", split,
                    "--threshold", "0.05", "--relevance", "best", "--serendipity", "1",
                    "--divergence-aim", "adjacent", "--plausibility", kind,
                    "--divergence-temperature", temp, "--seed", str(seed), "--out", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(path, known, tot, per, ps):
    past, cats, offers = known
    for line in open(path):
        d = json.loads(line)
        who = d["consumer"]
        if who not in past or d["action"] != "contact" or not d.get("offers"):
            continue
        for o in d["offers"]:
            bought = o["offer"] in offers.get(who, ())
            if o["kind"] != "divergent":
                tot["rel"] += 1
                tot["rel_hit"] += bought
                continue
            new = o["category"] in cats.get(who, ()) and o["category"] not in past[who]
            tot["div"] += 1
            tot["new"] += new
            tot["bought"] += bought
            ps.append(o["score"])
            e = per.setdefault(who, [0, 0])
            e[0] += 1
            e[1] += new


def main(argv):
    if len(argv) < 6:
        sys.exit(__doc__)
    args, seeds, configs = argv[:4], int(argv[4]), argv[5:]
    known = truth(args[0], args[2], args[3])
    out = f"{args[0]}.validation-{os.getpid()}.jsonl"
    first = None
    print("plausibility:T  relevant/run hits/run  divergent/run  new-category hit rate"
          "  bought  median p  paired difference")
    for c in configs:
        kind, temp = c.split(":")
        tot = dict(rel=0, rel_hit=0, div=0, new=0, bought=0)
        per, ps = {}, []
        for s in range(1, seeds + 1):
            run(args, kind, temp, s, out)
            measure(out, known, tot, per, ps)
        os.remove(out)
        line = (f"{c:15s} {tot['rel'] / seeds:8.0f} {tot['rel_hit'] / seeds:8.1f} "
                f"{tot['div'] / seeds:10.1f}     {tot['new'] / max(1, tot['div']):.4f} "
                f"({tot['new']}/{tot['div']})  {tot['bought'] / max(1, tot['div']):.4f}  "
                f"{statistics.median(ps) if ps else 0:.5f}")
        if first is None:
            first = per
        else:
            both = [w for w in per if w in first]
            dif = [per[w][1] / per[w][0] - first[w][1] / first[w][0] for w in both]
            se = statistics.stdev(dif) / math.sqrt(len(dif))
            line += f"  {statistics.mean(dif):+.4f} ± {se:.4f} ({len(both)} people)"
        print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
