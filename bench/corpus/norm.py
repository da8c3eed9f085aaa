"""Normalises text files and counts their words: for each input, the
lower-cased words (runs of a-z0-9) and how often each occurs, one
"word<TAB>count" line per word, most frequent first.

Three ways to run it, so that every tool of bench/fanout.sh runs the very
same code:
  norm.py IN OUT              one file (make, Snakemake)
  norm.py --dir INDIR OUTDIR  every file of a directory, one process
  norm.py                     as a guardrun processor: a batch
                              (PIPELINE_BATCH_FILE, items reported on
                              fd 3) or one item (PIPELINE_INPUTS)
"""
import collections, json, os, re, sys

WORD = re.compile(rb"[a-z0-9]+")


def norm(src, dst):
    with open(src, "rb") as f:
        counts = collections.Counter(WORD.findall(f.read().lower()))
    with open(dst, "w") as out:
        for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.write("%s\t%d\n" % (w.decode(), n))


def main():
    if len(sys.argv) == 3:
        norm(sys.argv[1], sys.argv[2])
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "--dir":
        for name in sorted(os.listdir(sys.argv[2])):
            norm(os.path.join(sys.argv[2], name), os.path.join(sys.argv[3], name[:-4] + ".tsv"))
        return 0
    out_dir = os.environ["PIPELINE_OUTPUT_DIR"]
    batch = os.environ.get("PIPELINE_BATCH_FILE")
    if not batch:
        inputs = json.loads(os.environ["PIPELINE_INPUTS"])
        outputs = json.loads(os.environ["PIPELINE_OUTPUTS"])
        norm(inputs[0], os.path.join(out_dir, outputs[0]))
        return 0
    fd = int(os.environ.get("PIPELINE_PROGRESS_FD", "3"))
    failed = 0
    with open(batch) as f:
        items = json.load(f)
    for it in items:
        try:
            norm(it["inputs"][0], os.path.join(out_dir, it["outputs"][0]))
            msg = {"item": it["item"], "status": "done"}
        except Exception as e:  # the item runs alone afterwards
            failed += 1
            msg = {"item": it["item"], "status": "failed", "error": str(e)}
        os.write(fd, (json.dumps(msg) + "\n").encode())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
