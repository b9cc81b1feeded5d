"""Writers of tiny checkpoints in the exact layouts the loaders must read.

Google's layout is what `modeling.py` and `run_pretraining.py` save: TF1
variables named `bert/...` and `cls/...`, written by a TF1 `Saver` as
`bert_model.ckpt.{index,data-00000-of-00001,meta}` next to `bert_config.json`
and `vocab.txt`, and zipped either flat (the 2020 small models) or inside a
folder named like the model (the 2018 and 2019 releases).
"""

import json
import zipfile

import numpy as np

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_google_config(**overrides):
    config = {
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 16,
        "initializer_range": 0.02,
        "intermediate_size": 32,
        "max_position_embeddings": 24,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "type_vocab_size": 2,
        "vocab_size": 40,
    }
    config.update(overrides)
    return config


def synthetic_vocabulary(size):
    words = ["the", "cat", "sat", "on", "mat", "dog", ".", ",", "!", "?"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = SPECIAL_TOKENS + words + letters + [f"##{c}" for c in letters]
    tokens += [f"tok{i}" for i in range(max(0, size - len(tokens)))]
    return tokens[:size]


def google_variables(config, seed=0, with_heads=True):
    """Random arrays under the names and shapes `modeling.py` creates."""
    rng = np.random.default_rng(seed)
    hidden = config["hidden_size"]
    inner = config["intermediate_size"]

    # Unit-variance pre-activations, like a trained model's: large enough
    # that a swapped or transposed tensor changes every output, small enough
    # that float32 rounding stays far below the tolerances.
    def normal(*shape, scale=0.1):
        return rng.normal(0.0, scale, shape).astype("float32")

    def layer_norm(prefix):
        return {
            f"{prefix}/gamma": 1.0 + normal(hidden),
            f"{prefix}/beta": normal(hidden),
        }

    def dense(prefix, fan_in, fan_out):
        return {
            f"{prefix}/kernel": normal(fan_in, fan_out, scale=fan_in**-0.5),
            f"{prefix}/bias": normal(fan_out),
        }

    arrays = {
        "bert/embeddings/word_embeddings": normal(config["vocab_size"], hidden, scale=0.1),
        "bert/embeddings/token_type_embeddings": normal(
            config["type_vocab_size"], hidden, scale=0.1
        ),
        "bert/embeddings/position_embeddings": normal(
            config["max_position_embeddings"], hidden, scale=0.1
        ),
        **layer_norm("bert/embeddings/LayerNorm"),
    }
    for i in range(config["num_hidden_layers"]):
        layer = f"bert/encoder/layer_{i}"
        for part in ("query", "key", "value"):
            arrays.update(dense(f"{layer}/attention/self/{part}", hidden, hidden))
        arrays.update(dense(f"{layer}/attention/output/dense", hidden, hidden))
        arrays.update(layer_norm(f"{layer}/attention/output/LayerNorm"))
        arrays.update(dense(f"{layer}/intermediate/dense", hidden, inner))
        arrays.update(dense(f"{layer}/output/dense", inner, hidden))
        arrays.update(layer_norm(f"{layer}/output/LayerNorm"))
    arrays.update(dense("bert/pooler/dense", hidden, hidden))
    if with_heads:
        arrays.update(dense("cls/predictions/transform/dense", hidden, hidden))
        arrays.update(layer_norm("cls/predictions/transform/LayerNorm"))
        arrays["cls/predictions/output_bias"] = normal(config["vocab_size"])
        arrays["cls/seq_relationship/output_weights"] = normal(2, hidden, scale=hidden**-0.5)
        arrays["cls/seq_relationship/output_bias"] = normal(2)
    return arrays


def write_google_checkpoint(folder, config, arrays, vocabulary=None, extra=None):
    """Writes `arrays` as a TF1 name-based checkpoint plus config and vocab.

    Args:
        folder: a `pathlib.Path`, created if needed.
        config: the `bert_config.json` content.
        arrays: name -> array, as from `google_variables`.
        vocabulary: list of tokens; synthetic of the config's size if None.
        extra: more name -> array written beside (optimizer slots, ...).
    """
    import tensorflow as tf

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bert_config.json").write_text(json.dumps(config, indent=2))
    tokens = vocabulary or synthetic_vocabulary(config["vocab_size"])
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in tokens), "utf-8")
    with tf.Graph().as_default():
        variables = [
            tf.compat.v1.Variable(value, name=name)
            for name, value in {**arrays, **(extra or {})}.items()
        ]
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / "bert_model.ckpt"))
    (folder / "checkpoint").unlink()
    return folder


def zip_google_folder(folder, zip_path, top_folder=None):
    """Zips a checkpoint folder flat, or under `top_folder/` like 2018's zips."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            name = f"{top_folder}/{path.name}" if top_folder else path.name
            archive.write(path, name)
    return zip_path


def huggingface_state_dict(arrays, num_layers):
    """Maps Google's names to `BertForPreTraining`'s, written independently
    of the package's own tables so that the two can check each other."""
    state = {
        "bert.embeddings.word_embeddings.weight": arrays["bert/embeddings/word_embeddings"],
        "bert.embeddings.token_type_embeddings.weight": arrays[
            "bert/embeddings/token_type_embeddings"
        ],
        "bert.embeddings.position_embeddings.weight": arrays[
            "bert/embeddings/position_embeddings"
        ],
        "bert.embeddings.LayerNorm.weight": arrays["bert/embeddings/LayerNorm/gamma"],
        "bert.embeddings.LayerNorm.bias": arrays["bert/embeddings/LayerNorm/beta"],
        "bert.pooler.dense.weight": arrays["bert/pooler/dense/kernel"].T,
        "bert.pooler.dense.bias": arrays["bert/pooler/dense/bias"],
    }
    for i in range(num_layers):
        g, h = f"bert/encoder/layer_{i}", f"bert.encoder.layer.{i}"
        pairs = {
            "attention.self.query": "attention/self/query",
            "attention.self.key": "attention/self/key",
            "attention.self.value": "attention/self/value",
            "attention.output.dense": "attention/output/dense",
            "intermediate.dense": "intermediate/dense",
            "output.dense": "output/dense",
        }
        for hf_name, google_name in pairs.items():
            state[f"{h}.{hf_name}.weight"] = arrays[f"{g}/{google_name}/kernel"].T
            state[f"{h}.{hf_name}.bias"] = arrays[f"{g}/{google_name}/bias"]
        for hf_name, google_name in {
            "attention.output.LayerNorm": "attention/output/LayerNorm",
            "output.LayerNorm": "output/LayerNorm",
        }.items():
            state[f"{h}.{hf_name}.weight"] = arrays[f"{g}/{google_name}/gamma"]
            state[f"{h}.{hf_name}.bias"] = arrays[f"{g}/{google_name}/beta"]
    if "cls/predictions/output_bias" in arrays:
        state.update(
            {
                "cls.predictions.transform.dense.weight": arrays[
                    "cls/predictions/transform/dense/kernel"
                ].T,
                "cls.predictions.transform.dense.bias": arrays[
                    "cls/predictions/transform/dense/bias"
                ],
                "cls.predictions.transform.LayerNorm.weight": arrays[
                    "cls/predictions/transform/LayerNorm/gamma"
                ],
                "cls.predictions.transform.LayerNorm.bias": arrays[
                    "cls/predictions/transform/LayerNorm/beta"
                ],
                "cls.predictions.bias": arrays["cls/predictions/output_bias"],
                "cls.seq_relationship.weight": arrays["cls/seq_relationship/output_weights"],
                "cls.seq_relationship.bias": arrays["cls/seq_relationship/output_bias"],
            }
        )
    return state
