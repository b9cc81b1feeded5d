"""The tokenizer's Unicode tables, kept in the cache: equal to a fresh build,
and rebuilt over a damaged file."""

import numpy as np

from bert_keras import unicode_ranges
from bert_keras.tokenizers import array_cache, bert_tokenizer


def test_the_cached_tables_equal_a_build_and_a_damaged_file_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("BERT_KERAS_HOME", str(tmp_path))
    bert_tokenizer._unicode_tables.cache_clear()
    try:
        path = array_cache.cache_file(
            "unicode-tables", [bert_tokenizer.__file__, unicode_ranges.__file__])
        assert path.is_relative_to(tmp_path) and not path.exists()
        built = bert_tokenizer._unicode_tables()
        assert path.exists()
        bert_tokenizer._unicode_tables.cache_clear()
        loaded = bert_tokenizer._unicode_tables()
        assert sorted(loaded) == sorted(built)
        for name in built:
            np.testing.assert_array_equal(loaded[name], built[name], err_msg=name)
        path.write_bytes(b"torn")
        bert_tokenizer._unicode_tables.cache_clear()
        again = bert_tokenizer._unicode_tables()
        np.testing.assert_array_equal(again["blocks"], built["blocks"])
        with np.load(path) as stored:
            assert sorted(stored.files) == sorted(built)
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    finally:
        bert_tokenizer._unicode_tables.cache_clear()
