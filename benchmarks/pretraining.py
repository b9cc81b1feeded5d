"""Pretraining side by side with Hugging Face `BertForPreTraining` (torch).

Both models start from the same random weights (ours, exported), see the
same batches in the same order (the original's `sample_text.txt` made with
dupe_factor 5, `../shared/reference/pretraining/sample_readme`) and train
the same number of steps at the same peak learning rate:

- bert_keras: `BertPretrainer`, the original recipe (`BertAdamW`, warmup
  then linear decay, global-norm clipping to 1).
- transformers: `BertForPreTraining` with `torch.optim.AdamW`, the linear
  warmup schedule of `transformers` and `clip_grad_norm_(1.0)`, as its
  pretraining examples train.

It prints the masked-LM and next-sentence accuracy each reaches (evaluated
by our metric code on both models' logits) and the training steps per
second, for several seeds. Run under each backend:

    KERAS_BACKEND=jax python benchmarks/pretraining.py --steps 300 --seeds 3
"""

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "reference" / "pretraining" / "sample_readme" / "examples.tfrecord"
VOCABULARY = ROOT.parent / "shared" / "reference" / "pretraining" / "checkpoint_L2_H32_A2"


def batches(batch_size, steps, seed):
    from bert_keras.data.pretraining import pretraining_dataset

    dataset = pretraining_dataset(str(DATA), batch_size, 128, 20, seed=seed).take(steps)
    return [({k: v.numpy() for k, v in x.items()}, {k: v.numpy() for k, v in y.items()},
             {k: v.numpy() for k, v in w.items()}) for x, y, w in dataset]


def eval_batches():
    from bert_keras.data.pretraining import pretraining_dataset

    dataset = pretraining_dataset(str(DATA), 12, 128, 20, is_training=False)
    return [({k: v.numpy() for k, v in x.items()}, {k: v.numpy() for k, v in y.items()},
             {k: v.numpy() for k, v in w.items()}) for x, y, w in dataset]


def accuracy(outputs, evaluation):
    correct_mlm = weight = correct_nsp = count = 0.0
    for (_, y, w), (mlm, nsp) in zip(evaluation, outputs):
        hit = (mlm.argmax(-1) == y["masked_lm"]) * w["masked_lm"]
        correct_mlm += hit.sum()
        weight += w["masked_lm"].sum()
        correct_nsp += (nsp.argmax(-1) == y["next_sentence"][:, 0]).sum()
        count += len(nsp)
    return correct_mlm / weight, correct_nsp / count


def train_ours(pretrainer, data, args):
    from bert_keras.optimizers import create_pretraining_optimizer

    pretrainer.compile(optimizer=create_pretraining_optimizer(
        args.learning_rate, args.steps, args.steps // 10))
    pretrainer.train_on_batch(*data[0])  # compiles
    start = time.perf_counter()
    for x, y, w in data[1:]:
        pretrainer.train_on_batch(x, y, w)
    return (len(data) - 1) / (time.perf_counter() - start)


def train_theirs(model, data, args):
    import torch
    import transformers

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.hf_learning_rate or args.learning_rate,
                                  weight_decay=0.01, eps=1e-6)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, args.steps // 10,
                                                            args.steps)
    model.train()
    start = None
    for index, (x, y, w) in enumerate(data):
        if index == 1:
            start = time.perf_counter()
        labels = np.full(x["token_ids"].shape, -100, "int64")
        rows = np.repeat(np.arange(len(labels))[:, None], y["masked_lm"].shape[1], 1)
        real = w["masked_lm"] > 0
        labels[rows[real], x["masked_lm_positions"][real]] = y["masked_lm"][real]
        output = model(
            input_ids=torch.from_numpy(x["token_ids"]).long(),
            token_type_ids=torch.from_numpy(x["segment_ids"]).long(),
            attention_mask=torch.from_numpy(x["padding_mask"]).long(),
            labels=torch.from_numpy(labels),
            next_sentence_label=torch.from_numpy(y["next_sentence"][:, 0]).long(),
        )
        output.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    return (len(data) - 1) / (time.perf_counter() - start)


def theirs_outputs(model, evaluation):
    import torch

    model.eval()
    outputs = []
    with torch.no_grad():
        for x, _, _ in evaluation:
            out = model(input_ids=torch.from_numpy(x["token_ids"]).long(),
                        token_type_ids=torch.from_numpy(x["segment_ids"]).long(),
                        attention_mask=torch.from_numpy(x["padding_mask"]).long())
            mlm = np.take_along_axis(out.prediction_logits.numpy(),
                                     x["masked_lm_positions"][:, :, None].astype("int64"), 1)
            outputs.append((mlm, out.seq_relationship_logits.numpy()))
    return outputs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--hf-learning-rate", type=float,
                        help="transformers' peak rate, if not --learning-rate (its AdamW "
                        "bias-corrects, which makes its early steps smaller than the original's)")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: this benchmark trains on the reference sample data.")

    import keras
    import torch
    import transformers

    from bert_keras.export import to_huggingface
    from bert_keras.models import BertBackbone, BertPretrainer
    from bert_keras.tokenizers import BertTokenizer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    tokenizer = BertTokenizer.from_preset(str(VOCABULARY))
    evaluation = eval_batches()
    print(f"backend {keras.backend.backend()}, {args.steps} steps of {args.batch_size}, "
          f"lr {args.learning_rate} (transformers {args.hf_learning_rate or args.learning_rate}), "
          "L2 H64 A2, vocabulary 30522")
    print("seed | ours MLM acc | HF MLM acc | ours NSP acc | HF NSP acc | ours steps/s | HF steps/s")
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        backbone = BertBackbone(vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=64,
                                intermediate_dim=256, max_sequence_length=128)
        ours = BertPretrainer(backbone)
        with tempfile.TemporaryDirectory() as folder:
            to_huggingface(ours, pathlib.Path(folder) / "start", tokenizer=tokenizer)
            theirs = transformers.BertForPreTraining.from_pretrained(pathlib.Path(folder) / "start")
        data = batches(args.batch_size, args.steps, seed)
        ours_speed = train_ours(ours, data, args)
        theirs_speed = train_theirs(theirs, data, args)
        ours_outputs = [tuple(np.asarray(v) for v in (o["masked_lm"], o["next_sentence"]))
                        for o in (ours.predict_on_batch(x) for x, _, _ in evaluation)]
        ours_mlm, ours_nsp = accuracy(ours_outputs, evaluation)
        theirs_mlm, theirs_nsp = accuracy(theirs_outputs(theirs, evaluation), evaluation)
        print(f"{seed} | {ours_mlm:.3f} | {theirs_mlm:.3f} | {ours_nsp:.3f} | {theirs_nsp:.3f} | "
              f"{ours_speed:.1f} | {theirs_speed:.1f}")


if __name__ == "__main__":
    main()
