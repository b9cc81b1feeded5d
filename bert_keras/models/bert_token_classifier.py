import keras
import numpy as np

from bert_keras.errors import DataError
from bert_keras.models.bert_task import BertTask

_OUTSIDE = "O"


@keras.saving.register_keras_serializable(package="bert_keras")
class BertTokenClassifier(BertTask):
    """Word-level tagging (NER, POS) with BERT: a label for every word.

    The recipe of the original README for word-level tasks: dropout and a
    dense layer over each token of the sequence output (float32 logits
    `[batch, seq, labels]`), trained on the first piece of every word; the
    other pieces, `[CLS]`, `[SEP]` and padding carry the label -100 and are
    left out of the loss and the metrics (see
    `bert_keras.data.tagging_features`, which also cuts long sentences into
    overlapping windows, so nothing is truncated).

    With a tokenizer attached (the default of `from_preset`), `fit` and
    `evaluate` take sentences as lists of words and their labels as lists of
    label names; `predict_words` gives each word's label, and `tag_scores`
    the entity-level scores of `conlleval`. `predict` on strings tags raw
    text: BERT's words with their tags and character offsets, and the
    entity spans. Token-id dicts with per-token
    labels (-100 where ignored) go to `fit` as for any Keras model.

    Args:
        backbone: a `bert_keras.models.BertBackbone`.
        label_names: list of str. The labels, in the order of the logits
            (e.g. `bert_keras.data.tagging.label_vocabulary(train)`).
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`, or None to feed
            token ids.
        sequence_length: int. The longest window of word pieces, `[CLS]`
            and `[SEP]` included (by default 128, or the backbone's
            positions when fewer).
        stride: int or None. The most pieces a window of a long sentence
            starts after the previous one (default: half a window).
        label_all_pieces: bool. Train on every piece of a word (`B-` becomes
            `I-` after the first) instead of its first piece only.
        dropout: float. Dropout on the sequence output (0.1 in the original).
        **kwargs: other `keras.Model` arguments (`name`).

    Example:
    ```python
    from bert_keras.models import BertTokenClassifier

    tagger = BertTokenClassifier.from_preset(
        "bert_tiny_en_uncased", label_names=["O", "B-PER", "I-PER"]
    )
    words = [["Jim", "Henson", "was", "a", "puppeteer"]]
    tagger.fit(words, [["B-PER", "I-PER", "O", "O", "O"]], epochs=3)
    tagger.predict_words(words)   # one label per word: [["B-PER", "I-PER", ...]]
    tagger.predict(["Jim Henson was a puppeteer"])[0]["entities"]
    # [{"text": "Jim Henson", "type": "PER", "start": 0, "end": 10}]
    ```
    """

    default_learning_rate = 5e-5

    def __init__(
        self, backbone, label_names, tokenizer=None, sequence_length=None, stride=None,
        label_all_pieces=False, dropout=0.1, **kwargs
    ):
        label_names = [str(name) for name in label_names]
        if sequence_length is None:
            sequence_length = min(128, backbone.max_sequence_length)
        if len(label_names) < 2 or len(set(label_names)) != len(label_names):
            raise ValueError(
                f"`label_names` must name at least two distinct labels; got {label_names}."
            )
        if not 3 <= sequence_length <= backbone.max_sequence_length:
            raise ValueError(
                f"sequence_length must be between 3 and the backbone's "
                f"{backbone.max_sequence_length} positions; got {sequence_length}."
            )
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = None
        self.tokenizer = tokenizer
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="output_dropout"
        )
        self.output_dense = keras.layers.Dense(
            len(label_names),
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            # Logits in float32 keep the loss exact under mixed precision.
            dtype="float32",
            name="logits",
        )

        # === Functional Model ===
        inputs = backbone.input
        sequence = backbone(inputs)["sequence_output"]
        outputs = self.output_dense(self.output_dropout(sequence))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.label_names = label_names
        self.sequence_length = sequence_length
        self.stride = stride
        self.label_all_pieces = label_all_pieces
        self.dropout = dropout

        self.compile()

    def default_loss(self):
        from bert_keras.data.tagging_features import IGNORED

        # The mean over the labelled pieces only.
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORED)

    def default_metrics(self):
        return []

    def default_weighted_metrics(self):
        from bert_keras.models.token_accuracy import TokenAccuracy

        # Weighted by the pieces' weights, so that ignored pieces count for nothing.
        return [TokenAccuracy()]

    # === Word-level data ===

    def fit(self, x=None, y=None, batch_size=None, epochs=1, validation_data=None,
            shuffle=True, **kwargs):
        """Trains on sentences of words and their labels, or on token ids.

        Args:
            x: a list of sentences, each a list of words (or a list of
                `bert_keras.data.tagging.TaggedSentence`, with `y` None);
                token-id dicts and datasets are passed on to Keras.
            y: one list of label names per sentence.
            batch_size: int. Windows per batch (32 by default).
            validation_data: `(sentences, labels)`, like `x` and `y`.
            **kwargs: other `keras.Model.fit` arguments.
        """
        if self._holds_words(x):
            batch_size = batch_size or 32
            seed = int(np.random.default_rng().integers(2**31)) if shuffle else None
            x = self._dataset(self._windows(x, y, "training"), batch_size, shuffle, seed)
            y, shuffle = None, False
            if validation_data is not None:
                validation_data = self._dataset(
                    self._windows(*validation_data, purpose="validation"), batch_size)
        _weigh_token_labels(x, y, kwargs)
        return super().fit(x, y, batch_size=batch_size, epochs=epochs,
                           validation_data=validation_data, shuffle=shuffle, **kwargs)

    def windows_dataset(self, x, y, batch_size, shuffle=False, seed=None, repeat=False):
        """The `tf.data.Dataset` that `fit` makes of sentences and labels;
        with `repeat`, endless and in full batches.

        Returns:
            `(dataset, windows)`: batches of `(inputs, labels, weights)`, and
            how many windows the sentences make (more than the sentences
            when some are longer than `sequence_length`).
        """
        windows = self._windows(x, y, "training")
        return self._dataset(windows, batch_size, shuffle, seed, repeat), len(windows.token_ids)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        if self._holds_words(x):
            x = self._dataset(self._windows(x, y, "evaluation"), batch_size or 32)
            y = batch_size = None
        _weigh_token_labels(x, y, kwargs)
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        """Tags raw text, or runs the model on token ids.

        Args:
            x: a str or a list of str; token-id dicts and datasets are
                passed on to `keras.Model.predict`.
            batch_size: int. Windows per batch (32 by default).

        Returns:
            For text, one dict per text: `words` (as written), their `tags`,
            `offsets` (`(start, end)` code point positions, end exclusive)
            and `entities`, a list of `{"text", "type", "start", "end"}`.
            The words are BERT's own (whitespace, punctuation and CJK
            characters split apart; see `bert_keras.data.text_words`).
        """
        if isinstance(x, str) or (
                isinstance(x, (list, tuple)) and all(isinstance(t, str) for t in x)):
            return self._predict_text([x] if isinstance(x, str) else list(x), batch_size or 32)
        return super().predict(x, batch_size=batch_size, **kwargs)

    def _predict_text(self, texts, batch_size):
        from bert_keras.data.text_words import entity_spans, split_words

        self._require_tokenizer()
        split = split_words(texts, self.tokenizer)
        logits = self._word_logits(self._encoder(None, None, [w.pieces for w in split]),
                                   batch_size)
        results = []
        for text, words, word_logits in zip(texts, split, logits):
            tags = self.word_tags(word_logits)
            results.append({
                "words": words.words,
                "tags": tags,
                "offsets": list(zip(words.starts, words.ends)),
                "entities": entity_spans(text, words, tags),
            })
        return results

    def predict_words(self, sentences, batch_size=32):
        """Each word's label: one list of label names per sentence.

        A word without word pieces (only zero-width characters, say) gets
        `O` (the first label when there is no `O`).
        """
        return [self.word_tags(s) for s in self.predict_word_logits(sentences, batch_size)]

    def word_tags(self, word_logits):
        """The labels of one sentence's `predict_word_logits`: the argmax of
        each row, and `O` (or the first label) for a NaN row."""
        fallback = _OUTSIDE if _OUTSIDE in self.label_names else self.label_names[0]
        return [fallback if np.isnan(row[0]) else self.label_names[int(np.argmax(row))]
                for row in word_logits]

    def predict_word_logits(self, sentences, batch_size=32):
        """Each word's logits `[words, labels]` from the window where it has
        the most context; NaN rows for words without pieces."""
        sentences = self._sentences(sentences, None, "prediction")[0]
        return self._word_logits(self._encoder(sentences, None), batch_size)

    def _word_logits(self, windows, batch_size):
        window_logits = []
        if windows.token_ids:
            for batch in self._dataset(windows, batch_size).as_numpy_iterator():
                logits = keras.ops.convert_to_numpy(self.predict_on_batch(batch))
                lengths = batch["padding_mask"].sum(axis=1)
                window_logits.extend(row[:length] for row, length in zip(logits, lengths))
        return windows.word_logits(window_logits)

    def tag_scores(self, sentences, labels=None, batch_size=32):
        """`conlleval`'s entity scores of the predictions for `sentences`
        (see `bert_keras.data.tagging_metrics.entity_scores`), with the
        predicted labels under `"predictions"`."""
        from bert_keras.data.tagging_metrics import entity_scores

        sentences, labels = self._sentences(sentences, labels, "evaluation")
        predictions = self.predict_words(sentences, batch_size)
        scores = entity_scores(labels, predictions)
        scores["predictions"] = predictions
        return scores

    def _holds_words(self, x):
        return isinstance(x, (list, tuple)) and not isinstance(x, dict) and (
            len(x) == 0 or not isinstance(x[0], (int, float, np.ndarray)))

    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise DataError(
                "This BertTokenClassifier has no tokenizer to read words with: "
                "build it with `from_preset`, or pass `tokenizer=`."
            )

    def _sentences(self, x, y, purpose):
        from bert_keras.data.tagging import TaggedSentence

        self._require_tokenizer()
        if x and all(isinstance(item, TaggedSentence) for item in x):
            x, y = [item.words for item in x], [item.labels for item in x]
        if isinstance(x, str) or not all(
                isinstance(s, (list, tuple)) and all(isinstance(w, str) for w in s) for s in x):
            raise DataError(
                f"{purpose.capitalize()} sentences are lists of words, e.g. "
                "[['Jim', 'Henson', 'was', 'a', 'puppeteer']]."
            )
        x = [list(s) for s in x]
        if y is not None:
            y = [list(labels) for labels in y]
            if len(y) != len(x):
                raise DataError(f"There are {len(x)} {purpose} sentences but {len(y)} label lists.")
            for index, (words, labels) in enumerate(zip(x, y)):
                if len(words) != len(labels):
                    raise DataError(
                        f"{purpose.capitalize()} sentence {index} has {len(words)} words but "
                        f"{len(labels)} labels; give one label per word."
                    )
        return x, y

    def _windows(self, x, y, purpose):
        from bert_keras.data.tagging import TaggedSentence, check_labels

        x, y = self._sentences(x, y, purpose)
        if not x:
            raise DataError(f"There are no {purpose} sentences.")
        if y is None:
            raise DataError(f"{purpose.capitalize()} sentences need their labels (`y`).")
        check_labels([TaggedSentence(w, l) for w, l in zip(x, y)], self.label_names,
                     name=f"The {purpose} data")
        return self._encoder(x, y)

    def _encoder(self, sentences, labels, pieces=None):
        from bert_keras.data.tagging_features import word_pieces, encode_pieces

        if pieces is None:
            pieces = word_pieces(sentences, self.tokenizer)
        return encode_pieces(
            pieces, self.tokenizer, self.sequence_length, labels=labels,
            label_ids={name: i for i, name in enumerate(self.label_names)},
            stride=self.stride, label_all_pieces=self.label_all_pieces,
        )

    def _dataset(self, windows, batch_size, shuffle=False, seed=None, repeat=False):
        return windows.dataset(batch_size, self.tokenizer.token_to_id("[PAD]"), shuffle, seed,
                               max_length=self.sequence_length, repeat=repeat)

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "label_names": self.label_names,
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "sequence_length": self.sequence_length,
            "stride": self.stride,
            "label_all_pieces": self.label_all_pieces,
            "dropout": self.dropout,
            "name": self.name,
        }

    @classmethod
    def from_preset(
        cls, preset, label_names=None, sequence_length=None, load_weights=True, remat=False,
        attention_dropout=None, **kwargs
    ):
        """A tagger on a pretrained backbone, with the preset's tokenizer.

        A Hugging Face `BertForTokenClassification` folder (ours from
        `to_huggingface`, or transformers') loads with its labels and head;
        any other preset gets a new head for `label_names`.

        Args:
            preset: a preset name, a local Google or Hugging Face folder or
                zip, or `hf://org/name`; see `BertBackbone.from_preset`.
            label_names: list of str, the labels in the order of the logits;
                None takes those of a token-classification folder.
            sequence_length: int. The longest window (128 by default).
            load_weights: bool. False builds the architecture only.
            remat: bool. Recompute the encoder blocks in the backward pass.
            attention_dropout: float or None. Replaces the checkpoint's
                dropout rate on attention probabilities.
            **kwargs: other `BertTokenClassifier` arguments.
        """
        import warnings

        from bert_keras.presets.task_heads import token_classifier_head
        from bert_keras.tokenizers.bert_tokenizer import BertTokenizer

        head = token_classifier_head(preset) if load_weights else None
        if label_names is None:
            if head is None:
                raise DataError(
                    f"{preset} has no token-classification head to take labels from; "
                    "pass label_names=[...] (e.g. bert_keras.data.tagging."
                    "label_vocabulary(train))."
                )
            label_names = head[0]
        with warnings.catch_warnings():
            # Token-level folders save no pooler, and a tagger needs none.
            warnings.filterwarnings("ignore", message=r".*has no pooler")
            backbone = cls._preset_backbone(preset, load_weights, remat, attention_dropout)
        tokenizer = BertTokenizer.from_preset(preset)
        tagger = cls(backbone, label_names, tokenizer=tokenizer, sequence_length=sequence_length,
                     **kwargs)
        if head is not None and head[0] == tagger.label_names:
            tagger.output_dense.kernel.assign(head[1])
            tagger.output_dense.bias.assign(head[2])
        elif head is not None:
            warnings.warn(
                f"{preset}'s head is for the labels {head[0]}, not {tagger.label_names}: "
                "a new head starts from a random initialization.",
                stacklevel=2,
            )
        return tagger


def _weigh_token_labels(x, y, kwargs):
    # Token-id arrays with -100 labels: the accuracy must skip those pieces,
    # as the loss does.
    if isinstance(x, dict) and y is not None and kwargs.get("sample_weight") is None:
        from bert_keras.data.tagging_features import IGNORED

        kwargs["sample_weight"] = (np.asarray(y) != IGNORED).astype("float32")
