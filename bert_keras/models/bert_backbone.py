import keras

from bert_keras.layers.bert_embedding import BertEmbedding
from bert_keras.layers.bert_encoder_block import BertEncoderBlock
from bert_keras.layers.bert_pooler import BertPooler


@keras.saving.register_keras_serializable(package="bert_keras")
class BertBackbone(keras.Model):
    """The BERT encoder network, as a functional Keras model.

    Token, position and segment embeddings, `num_layers` post-LayerNorm
    transformer blocks, and the tanh pooler on the first token: the `bert/`
    part of Google's original `modeling.BertModel`, with identical math.

    Inputs are a dict of int32 tensors of shape `[batch, seq]`, any `seq` up
    to `max_sequence_length`: `token_ids`, `segment_ids` (0 for the first
    sentence, 1 for the second) and `padding_mask` (1 for real tokens, 0 for
    padding). Outputs are a dict: `sequence_output` `[batch, seq, hidden]`,
    `pooled_output` `[batch, hidden]`, and `encoder_outputs`, the list of
    every block's output (for feature extraction).

    Args:
        vocabulary_size: int. Size of the token vocabulary.
        num_layers: int. Number of transformer blocks.
        num_heads: int. Number of attention heads per block.
        hidden_dim: int. Width of the model; a multiple of `num_heads`.
        intermediate_dim: int. Width of the feed-forward layers.
        dropout: float. Dropout on embeddings and residual branches.
        attention_dropout: float. Dropout on the attention probabilities.
        max_sequence_length: int. Number of learned positions.
        num_segments: int. Number of segment ids.
        activation: str. `"gelu_approximate"` (the tanh GELU of every
            Google checkpoint) or `"gelu"` (exact), or another name from
            `bert_keras.layers.activations`.
        dtype: a dtype or `keras.DTypePolicy`, e.g. `"mixed_bfloat16"`;
            softmax and LayerNorm statistics stay in float32.
        remat: bool. Rematerialize each encoder block (gradient
            checkpointing): training keeps only the blocks' inputs and
            recomputes their insides during the backward pass, trading extra
            compute for activation memory. Outputs and gradients are
            unchanged.
        **kwargs: other `keras.Model` arguments (`name`, `trainable`).

    Example:
    ```python
    import numpy as np
    from bert_keras.models import BertBackbone

    backbone = BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    outputs = backbone({
        "token_ids": np.array([[2, 7, 9, 3, 0]], "int32"),
        "segment_ids": np.zeros((1, 5), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]], "int32"),
    })
    outputs["pooled_output"].shape  # (1, 16)
    ```

    Pretrained weights: `BertBackbone.from_preset("bert_base_en_uncased")`.
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        attention_dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
        activation="gelu_approximate",
        dtype=None,
        remat=False,
        **kwargs,
    ):
        # === Layers ===
        self.embeddings = BertEmbedding(
            vocabulary_size=vocabulary_size,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            dropout=dropout,
            dtype=dtype,
            name="embeddings",
        )
        self.encoder_blocks = [
            BertEncoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                activation=activation,
                dropout=dropout,
                attention_dropout=attention_dropout,
                remat=remat,
                dtype=dtype,
                name=f"encoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        self.pooler = BertPooler(dtype=dtype, name="pooler")

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(
            shape=(None,), dtype="int32", name="padding_mask"
        )
        x = self.embeddings(token_ids, segment_ids)
        encoder_outputs = []
        for block in self.encoder_blocks:
            x = block(x, padding_mask=padding_mask)
            encoder_outputs.append(x)
        super().__init__(
            inputs={
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
            },
            outputs={
                "sequence_output": x,
                "pooled_output": self.pooler(x),
                "encoder_outputs": encoder_outputs,
            },
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        # The functional constructor ignores `dtype`; the layers hold it.
        self.dtype_policy = self.embeddings.dtype_policy
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.activation = activation
        self.remat = remat

    @property
    def token_embedding(self):
        """The token `keras.layers.Embedding`, shared with the MLM decoder."""
        return self.embeddings.token_embedding

    def get_config(self):
        return {
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "activation": self.activation,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "remat": self.remat,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Builds a backbone from a preset name, local folder, zip or `hf://`.

        Args:
            preset: a registry name or alias (`bert_keras.presets.
                list_presets()`), Google's folder name, a local Google zip or
                folder (`bert_config.json`, `vocab.txt`, `bert_model.ckpt.*`),
                a local Hugging Face BERT folder, or `hf://org/name`.
            load_weights: bool. False returns the architecture with random
                weights and downloads no checkpoint.
            **kwargs: overrides of the architecture's keyword arguments that
                do not change weight shapes (`dropout`, `dtype`, ...).
        """
        from bert_keras.presets.loader import load_backbone

        return load_backbone(preset, load_weights=load_weights, **kwargs)
