"""BertPretrainer against the original `run_pretraining.py` model_fn (its
per-batch losses and eval metrics on a Google-layout checkpoint) and against
Hugging Face `BertForPreTraining` on the same weights."""

import json
import pathlib
import warnings

import keras
import numpy as np
import pytest

from bert_keras.models import BertBackbone, BertPretrainer

REFERENCE = pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "pretraining"
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "checkpoint_L2_H32_A2").is_dir(),
    reason="../shared/reference/pretraining (the original's outputs) is not present",
)
# The reference agrees with an independent float64 forward pass within
# 1.1e-6; 1e-5 leaves room for float32 summation order on each backend.
TOLERANCE = 1e-5


def reference_batches(name):
    from bert_keras.data.pretraining import pretraining_dataset

    settings = json.loads((REFERENCE / name / "settings.json").read_text())
    expected = json.loads((REFERENCE / name / "original_eval.json").read_text())
    dataset = pretraining_dataset(
        str(REFERENCE / name / "examples.tfrecord"), expected["batch_size"],
        settings["max_seq_length"], settings["max_predictions_per_seq"], is_training=False,
    )
    return dataset, expected


@needs_reference
@pytest.mark.parametrize("name", ["sample_readme", "sample_wwm"])
def test_losses_and_eval_metrics_equal_the_original(name):
    pretrainer = BertPretrainer.from_preset(str(REFERENCE / "checkpoint_L2_H32_A2"))
    assert pretrainer.heads_source == "checkpoint"
    dataset, expected = reference_batches(name)
    batches = list(dataset.take(expected["max_eval_steps"]))
    assert len(batches) == len(expected["batches"])
    for (x, y, weights), original in zip(batches, expected["batches"]):
        losses = pretrainer.pretraining_losses(y, pretrainer(x, training=False), weights)
        total = float(losses["masked_lm_loss"]) + float(losses["next_sentence_loss"])
        assert abs(total - original["total_loss"]) < TOLERANCE
        for key in ("masked_lm_loss", "next_sentence_loss"):
            assert abs(float(losses[key]) - original[key]) < TOLERANCE, key
        for key in ("masked_lm_example_loss", "next_sentence_example_loss"):
            np.testing.assert_allclose(
                np.asarray(losses[key]).reshape(-1), original[key], atol=TOLERANCE, rtol=0
            )
    results = pretrainer.evaluate(dataset, return_dict=True, verbose=0)
    assert set(results) == set(expected["eval_results"])
    for key, value in expected["eval_results"].items():
        assert abs(results[key] - value) < TOLERANCE, (key, results[key], value)


def tiny_backbone(**overrides):
    config = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16,
                  intermediate_dim=32, max_sequence_length=24)
    return BertBackbone(**{**config, **overrides})


def random_batch(batch=4, length=12, predictions=3, vocabulary=40, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "token_ids": rng.integers(5, vocabulary, (batch, length)).astype("int32"),
        "segment_ids": np.repeat([[0] * (length // 2) + [1] * (length - length // 2)], batch, 0).astype("int32"),
        "padding_mask": np.ones((batch, length), "int32"),
        "masked_lm_positions": rng.integers(1, length, (batch, predictions)).astype("int32"),
    }
    y = {"masked_lm": rng.integers(5, vocabulary, (batch, predictions)).astype("int32"),
         "next_sentence": rng.integers(0, 2, (batch, 1)).astype("int32")}
    weights = {"masked_lm": np.ones((batch, predictions), "float32")}
    weights["masked_lm"][:, -1] = 0.0
    return x, y, weights


def huggingface_folder(tmp_path, heads="pretraining"):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=24, hidden_act="gelu_new",
    )
    kind = {"pretraining": transformers.BertForPreTraining, "masked_lm": transformers.BertForMaskedLM,
            "none": transformers.BertModel}[heads]
    model = kind(config).eval()
    with torch.no_grad():
        # Non-zero biases, so that a head left out or swapped shows.
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0, 0.1)
    model.save_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("".join(f"t{i}\n" for i in range(40)))
    return model


def test_heads_from_a_huggingface_pretraining_folder_match_transformers(tmp_path):
    import torch

    reference = huggingface_folder(tmp_path)
    pretrainer = BertPretrainer.from_preset(str(tmp_path))
    assert pretrainer.heads_source == "checkpoint"
    x, _, _ = random_batch()
    ours = pretrainer.predict_on_batch(x)
    with torch.no_grad():
        theirs = reference(
            input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long),
        )
    gathered = np.take_along_axis(
        theirs.prediction_logits.numpy(), x["masked_lm_positions"][:, :, None], axis=1
    )
    np.testing.assert_allclose(ours["masked_lm"], gathered, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours["next_sentence"], theirs.seq_relationship_logits.numpy(),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("heads, new", [("none", "mlm_head and nsp_head"), ("masked_lm", "nsp_head")])
def test_missing_heads_start_new_with_a_warning(tmp_path, heads, new):
    huggingface_folder(tmp_path, heads)
    with pytest.warns(UserWarning, match=f"no weights for {new}.*new random initialization"):
        pretrainer = BertPretrainer.from_preset(str(tmp_path))
    assert pretrainer.heads_source == ("new" if heads == "none" else "partly new")


def test_masked_lm_only_trains_and_round_trips_through_keras_files(tmp_path):
    keras.utils.set_random_seed(0)
    pretrainer = BertPretrainer(tiny_backbone(), nsp=False)
    assert set(pretrainer.output) == {"masked_lm"}
    x, y, weights = random_batch(batch=8)
    # Arrays need one weight per label; a dataset may leave labels unweighted.
    y = {"masked_lm": y["masked_lm"]}
    pretrainer.compile(learning_rate=1e-2)
    history = pretrainer.fit(x, y, sample_weight=weights, batch_size=8, epochs=8, verbose=0)
    losses = history.history["masked_lm_loss"]
    assert losses[-1] < losses[0] - 0.5
    assert "next_sentence_loss" not in history.history
    path = tmp_path / "pretrainer.keras"
    pretrainer.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, BertPretrainer) and not loaded.nsp
    np.testing.assert_array_equal(loaded.predict_on_batch(x)["masked_lm"],
                                  pretrainer.predict_on_batch(x)["masked_lm"])
    # The decoder stays tied to the word embeddings after loading.
    assert loaded.mlm_head.token_embedding is loaded.backbone.token_embedding


def test_a_saved_pretrainer_keeps_its_own_optimizer_and_state(tmp_path):
    from bert_keras.optimizers import BertLamb, create_pretraining_optimizer

    keras.utils.set_random_seed(0)
    pretrainer = BertPretrainer(tiny_backbone())
    pretrainer.compile(optimizer=create_pretraining_optimizer(
        1e-2, 10, 2, optimizer="lamb", gradient_accumulation_steps=2))
    x, y, weights = random_batch(batch=8)
    weights = {**weights, "next_sentence": np.ones(8, "float32")}
    pretrainer.fit(x, y, sample_weight=weights, batch_size=2, verbose=0)
    pretrainer.save(tmp_path / "pretrainer.keras")
    with warnings.catch_warnings():
        # Keras warns, and drops the optimizer's state, when it does not fit.
        warnings.simplefilter("error")
        loaded = keras.models.load_model(tmp_path / "pretrainer.keras")
    optimizer = loaded.optimizer
    assert isinstance(optimizer, BertLamb) and optimizer.gradient_accumulation_steps == 2
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 2
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule == pretrainer.optimizer.get_config()["learning_rate"]
    saved = {v.path: keras.ops.convert_to_numpy(v) for v in pretrainer.optimizer.variables}
    restored = {v.path: keras.ops.convert_to_numpy(v) for v in optimizer.variables}
    assert saved.keys() == restored.keys()
    for path, value in saved.items():
        np.testing.assert_array_equal(restored[path], value, err_msg=path)


def test_the_loss_is_the_original_sum_and_ignores_padded_predictions():
    keras.utils.set_random_seed(1)
    pretrainer = BertPretrainer(tiny_backbone(dropout=0.0, attention_dropout=0.0))
    x, y, weights = random_batch()
    outputs = pretrainer(x)
    loss = float(pretrainer.compute_loss(x, y, outputs, weights))
    logits = np.asarray(outputs["masked_lm"], "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, y["masked_lm"][..., None], -1)[..., 0]
    w = weights["masked_lm"]
    nsp_logits = np.asarray(outputs["next_sentence"], "float64")
    nsp_log_probs = nsp_logits - np.log(np.exp(nsp_logits).sum(-1, keepdims=True))
    nsp = -np.take_along_axis(nsp_log_probs, y["next_sentence"], -1).mean()
    expected = (w * nll).sum() / (w.sum() + 1e-5) + nsp
    assert abs(loss - expected) < 1e-5
    # A changed label in a padded slot changes nothing.
    y["masked_lm"][:, -1] = (y["masked_lm"][:, -1] + 1) % 40
    assert float(pretrainer.compute_loss(x, y, outputs, weights)) == pytest.approx(loss, abs=1e-7)


def test_from_scratch_uses_the_original_initializer():
    keras.utils.set_random_seed(2)
    pretrainer = BertPretrainer(tiny_backbone(vocabulary_size=2000, hidden_dim=64, num_heads=4))
    kernel = keras.ops.convert_to_numpy(pretrainer.nsp_head.kernel)
    embeddings = keras.ops.convert_to_numpy(pretrainer.backbone.token_embedding.embeddings)
    for values in (kernel, embeddings):
        # A truncated normal (at 2 stddev) of stddev 0.02 has stddev 0.0176.
        assert np.abs(values).max() <= 0.04 + 1e-6
        assert 0.015 < values.std() < 0.02
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pretrainer.mlm_head.output_bias), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pretrainer.get_config()["nsp"] is True
