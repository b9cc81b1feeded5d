"""Hugging Face transformers as the independent reference for conversions:
`BertForPreTraining` run on the same weights as our backbone and heads."""

import numpy as np
import pytest

from tests.checkpoints import huggingface_state_dict

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# The reference runs in float64, so the difference is our float32 rounding
# alone: a few 1e-6 on outputs of magnitude up to ~10 (trained BERT's logit
# range); 1e-5 bounds it while any wrong weight or formula breaks it.
TOLERANCE = 1e-5


def huggingface_reference(config, arrays):
    hf_config = transformers.BertConfig(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"],
        intermediate_size=config["intermediate_size"],
        max_position_embeddings=config["max_position_embeddings"],
        type_vocab_size=config["type_vocab_size"],
        # `modeling.py`'s gelu is the tanh form, which transformers calls gelu_new.
        hidden_act="gelu_new",
        layer_norm_eps=1e-12,
        attn_implementation="eager",
    )
    model = transformers.BertForPreTraining(hf_config).eval().double()
    state = {
        k: torch.from_numpy(np.ascontiguousarray(v, dtype="float64"))
        for k, v in huggingface_state_dict(arrays, config["num_hidden_layers"]).items()
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected
    assert set(missing) <= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
    return model


def batch(config, seed=1):
    rng = np.random.default_rng(seed)
    length = config["max_position_embeddings"]
    token_ids = rng.integers(0, config["vocab_size"], (3, length)).astype("int32")
    segment_ids = (np.arange(length)[None, :] >= rng.integers(1, length, (3, 1))).astype("int32")
    padding_mask = (np.arange(length)[None, :] < np.array([[length], [9], [3]])).astype("int32")
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def compare_with_reference(backbone, heads, config, arrays):
    inputs = batch(config)
    reference = huggingface_reference(config, arrays)
    with torch.no_grad():
        expected = reference(
            input_ids=torch.from_numpy(inputs["token_ids"]).long(),
            token_type_ids=torch.from_numpy(inputs["segment_ids"]).long(),
            attention_mask=torch.from_numpy(inputs["padding_mask"]).long(),
            output_hidden_states=True,
        )
        expected_pooled = reference.bert.pooler(expected.hidden_states[-1])
    outputs = backbone(inputs)
    mask = inputs["padding_mask"][..., None].astype(bool)

    def close(ours, theirs):
        ours = np.asarray(ours)
        theirs = theirs.numpy()
        np.testing.assert_allclose(ours, theirs, atol=TOLERANCE, rtol=0)

    # Padded positions carry no meaning in either implementation.
    close(np.where(mask, outputs["sequence_output"], 0),
          torch.where(torch.from_numpy(mask), expected.hidden_states[-1], 0))
    for ours, theirs in zip(outputs["encoder_outputs"], expected.hidden_states[1:]):
        close(np.where(mask, ours, 0), torch.where(torch.from_numpy(mask), theirs, 0))
    close(outputs["pooled_output"], expected_pooled)
    mlm_head, nsp_head = heads
    positions = np.tile(np.arange(inputs["token_ids"].shape[1]), (3, 1)).astype("int32")
    mlm_logits = np.asarray(mlm_head(outputs["sequence_output"], positions))
    close(np.where(mask, mlm_logits, 0),
          torch.where(torch.from_numpy(mask), expected.prediction_logits, 0))
    close(nsp_head(outputs["pooled_output"]), expected.seq_relationship_logits)
