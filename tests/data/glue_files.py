"""Tiny copies of the official GLUE and XNLI files, in their exact layouts.

`ROWS` maps each file (relative to `$GLUE_DIR`, or to `$XNLI_DIR` for XNLI)
to its rows, header first where the real file has one. The texts keep what
makes the real files tricky: literal double quotes (also opening a field),
apostrophes split off by the tokenizers that made GLUE, and non-ASCII text.
`EXPECTED` lists, for each task and split, the examples a reader must return,
written out by hand from the rows (not computed by the code under test).
"""

import pathlib

_MNLI_PARSES = ["( ( x ) )", "( ( y ) )", "(ROOT (S x))", "(ROOT (S y))"]


def _mnli(index, genre, premise, hypothesis, labels=()):
    return [str(index), f"{index}1", f"{index}1e", genre, *_MNLI_PARSES, premise, hypothesis, *labels]


_MNLI_HEAD = [
    "index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2",
]  # fmt: skip
_XNLI_HEAD = [
    "language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse",
    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID",
    "genre", "label1", "label2", "label3", "label4", "label5", "sentence1_tokenized",
    "sentence2_tokenized", "match",
]  # fmt: skip


def _xnli(language, label, premise, hypothesis, pair_id):
    return [
        language, label, "", "", "", "", premise, hypothesis, "1", pair_id, "facetoface",
        label, label, label, label, label, premise, hypothesis, "True",
    ]  # fmt: skip


ROWS = {
    # CoLA: no header in train/dev (source, label, original mark, sentence).
    "CoLA/train.tsv": [
        ["gj04", "1", "", "Our friends won't buy this analysis, let alone the next one we propose."],
        ["gj04", "0", "*", "They drank the pub."],
        ["bc01", "1", "", '"Sue," said John, "is leaving."'],
    ],
    "CoLA/dev.tsv": [["gj04", "1", "", "The sailors rode the breeze clear of the rocks."]],
    "CoLA/test.tsv": [
        ["index", "sentence"],
        ["0", "Bill whistled past the house."],
        ["1", "Naïve Zoë wrote the résumé."],
    ],
    "SST-2/train.tsv": [
        ["sentence", "label"],
        ["hide new secretions from the parental units ", "0"],
        ["that loves its characters and communicates something rather beautiful ", "1"],
    ],
    "SST-2/dev.tsv": [["sentence", "label"], ["it 's a charming and often affecting journey . ", "1"]],
    "SST-2/test.tsv": [["index", "sentence"], ["0", '" uneasy mishmash of styles and genres .']],
    "MRPC/train.tsv": [
        ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        [
            "1", "702876", "702977",
            'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .',
            'Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .',
        ],
        [
            "0", "2108705", "2108831",
            "Yucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 billion .",
            "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 billion in 1998 .",
        ],
    ],  # fmt: skip
    "MRPC/dev.tsv": [
        ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        ["1", "1355540", "1355592", "He said the foodservice pie business doesn 't fit .", "The foodservice pie business does not fit ."],
    ],  # fmt: skip
    "MRPC/test.tsv": [
        ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        ["0", "1089874", "1089925", "PCCW 's chief operating officer quits .", "Mike Butcher quits PCCW ."],
        ["1", "3019446", "3019327", "The world 's two largest automakers said ...", "Both automakers reported ..."],
    ],  # fmt: skip
    "STS-B/train.tsv": [
        ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"],
        ["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none", "A plane is taking off.", "An air plane is taking off.", "5.000"],
        ["1", "main-captions", "MSRvid", "2012test", "0004", "none", "none", '"A man is playing a large flute."', "A man is playing a flute.", "3.800"],
    ],  # fmt: skip
    "STS-B/dev.tsv": [
        ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"],
        ["0", "main-captions", "MSRvid", "2012test", "0000", "none", "none", "A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", "5.000"],
    ],  # fmt: skip
    "STS-B/test.tsv": [
        ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2"],
        ["0", "main-captions", "MSRvid", "2012test", "0024", "none", "none", "A girl is styling her hair.", "A girl is brushing her hair."],
    ],  # fmt: skip
    "QQP/train.tsv": [
        ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
        ["133273", "213221", "213222", "How is the life of a math student?", 'What does "jlpt5" mean?', "0"],
        ["402555", "536040", "536041", "How do I control my emotions? 🙂", "How do you control your emotions?", "1"],
    ],  # fmt: skip
    "QQP/dev.tsv": [
        ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
        ["201359", "303345", "303346", "Why are African-Americans so beautiful?", "Why are hispanics so beautiful?", "0"],
    ],  # fmt: skip
    "QQP/test.tsv": [
        ["id", "question1", "question2"],
        ["0", "Why do rockets look white?", "Why are rockets and boosters painted white?"],
    ],
    "MNLI/train.tsv": [
        _MNLI_HEAD + ["label1", "gold_label"],
        _mnli(0, "government", "Conceptually cream skimming has two basic dimensions.", "Product and geography are what make cream skimming work. ", ["neutral", "neutral"]),
        _mnli(1, "telephone", "you know during the season and i guess at at your level uh you lose them", 'You lose the things to the following level if the people recall "them".', ["entailment", "entailment"]),
    ],  # fmt: skip
    "MNLI/dev_matched.tsv": [
        _MNLI_HEAD + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
        _mnli(9815, "slate", "The new rights are nice enough", "Everyone really likes the newest benefits ", ["neutral", "entailment", "neutral", "neutral", "neutral", "neutral"]),
        _mnli(9816, "government", "This site includes a list of all award winners.", "The Government Executive articles housed on the website are not able to be searched.", ["contradiction"] * 6),
    ],  # fmt: skip
    "MNLI/dev_mismatched.tsv": [
        _MNLI_HEAD + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
        _mnli(0, "letters", "Your contribution helped make it possible — café included.", "Your contributions were of no help.", ["contradiction"] * 6),
    ],  # fmt: skip
    "MNLI/test_matched.tsv": [
        _MNLI_HEAD,
        _mnli(0, "government", "Hierbas, ans seco, ans dulce, and frigola are just a few names.", "Hierbas is a name worth looking out for."),
    ],  # fmt: skip
    "MNLI/test_mismatched.tsv": [
        _MNLI_HEAD,
        _mnli(0, "letters", "What we have done is to provide the foundation.", "We provided the foundation."),
        _mnli(1, "letters", "Dear Friend,", "This letter is for a friend."),
    ],  # fmt: skip
    "QNLI/train.tsv": [
        ["index", "question", "sentence", "label"],
        ["0", "When did the third Digimon series begin?", "Unlike the two seasons before it, Digimon Tamers takes a darker approach.", "not_entailment"],
        ["1", "Which missile batteries often have individual launchers?", "When MANPADS is operated by specialists, batteries may have several dozen teams.", "entailment"],
    ],  # fmt: skip
    "QNLI/dev.tsv": [
        ["index", "question", "sentence", "label"],
        ["0", "What came into force after the new constitution was herald?", "As of that day, the new constitution heralding the Second Republic came into force.", "entailment"],
    ],  # fmt: skip
    "QNLI/test.tsv": [
        ["index", "question", "sentence"],
        ["0", "What organization is devoted to Jihad?", "For some decades prior to the First Palestine Intifada ..."],
    ],  # fmt: skip
    "RTE/train.tsv": [
        ["index", "sentence1", "sentence2", "label"],
        ["0", "No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found in Iraq.", "not_entailment"],
        ["1", "A place of sorrow, after Pope John Paul II died, became a place of celebration.", "Pope Benedict XVI is the new leader of the Roman Catholic Church.", "entailment"],
    ],  # fmt: skip
    "RTE/dev.tsv": [
        ["index", "sentence1", "sentence2", "label"],
        ["0", "Dana Reeve, the widow of the actor Christopher Reeve, has died.", "Christopher Reeve had an accident.", "not_entailment"],
    ],  # fmt: skip
    "RTE/test.tsv": [
        ["index", "sentence1", "sentence2"],
        ["0", "Mangla was summoned after Madhumita's sister Nidhi Shukla complained.", "Shukla is related to Mangla."],
    ],  # fmt: skip
    "WNLI/train.tsv": [
        ["index", "sentence1", "sentence2", "label"],
        ["0", "I stuck a pin through a carrot. When I pulled the pin out, it had a hole.", "The carrot had a hole.", "1"],
        ["1", "John couldn't see the stage with Billy in front of him because he is so short.", "John is so short.", "1"],
    ],  # fmt: skip
    "WNLI/dev.tsv": [
        ["index", "sentence1", "sentence2", "label"],
        ["0", "The drain is clogged with hair. It has to be cleaned.", "The hair has to be cleaned.", "0"],
    ],  # fmt: skip
    "WNLI/test.tsv": [
        ["index", "sentence1", "sentence2"],
        ["0", "Maude and Dora had seen the trains rushing across the prairie.", "Horses ran away when Maude and Dora came into sight."],
    ],  # fmt: skip
    "diagnostic/diagnostic.tsv": [
        ["index", "sentence1", "sentence2"],
        ["0", "The cat sat on the mat.", "The cat did not sit on the mat."],
        ["1", '"Brexit" is a portmanteau.', "Brexit is a word."],
    ],  # fmt: skip
    "XNLI-MT-1.0/multinli/multinli.train.zh.tsv": [
        ["premise", "hypo", "label"],
        ["从 概念 上 看 , 奶油 收入 有 两 个 基本 方面 产品 和 地理 .", "产品 和 地理 是 什么 使 奶油 抹 霜 工作 .", "neutral"],
        ["你 知道 在 这个 季节 , 我 猜 在 你 的 水平 你 把 他们 丢到 下 一个 水平", "如果 人们 记得 的 话 , 你 就 会 把 事情 弄 丢 了 .", "contradictory"],
    ],  # fmt: skip
    "XNLI-MT-1.0/multinli/multinli.train.de.tsv": [
        ["premise", "hypo", "label"],
        ["Konzeptionell hat die Sahneabschöpfung zwei grundlegende Dimensionen.", "Produkt und Geographie sind das, was die Sahne zum Laufen bringt.", "entailment"],
    ],  # fmt: skip
    "XNLI-1.0/xnli.dev.tsv": [
        _XNLI_HEAD,
        _xnli("ar", "neutral", "وقال، ماما، لقد عدت للمنزل.", "اتصل بأمه حالما أوصلته حافلة المدرسية.", "1"),
        _xnli("zh", "contradiction", "他说，妈妈，我回来了。", "校车把他放下后，他立即给他妈妈打了电话。", "1"),
        _xnli("de", "entailment", 'Und er sagte: "Mama, ich bin daheim."', "Er sagte seiner Mutter, er sei nach Hause gekommen.", "2"),
        _xnli("zh", "entailment", "他说，妈妈，我回来了。", "他告诉他的妈妈他已经回到家了。", "2"),
    ],  # fmt: skip
}


def write_rows(path, rows):
    """Writes `rows` tab-separated, one per line, as the GLUE files are."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_all(root):
    """Writes every file of `ROWS` below `root`; returns `root`."""
    for relative, rows in ROWS.items():
        write_rows(pathlib.Path(root) / relative, rows)
    return pathlib.Path(root)


# (task, split) -> [(guid, text_a, text_b, label, line_number)], from the rows
# above: the columns each original processor reads, 1-based editor lines.
EXPECTED = {
    ("cola", "train"): [
        ("train-0", "Our friends won't buy this analysis, let alone the next one we propose.", None, "1", 1),
        ("train-1", "They drank the pub.", None, "0", 2),
        ("train-2", '"Sue," said John, "is leaving."', None, "1", 3),
    ],
    ("cola", "dev"): [("dev-0", "The sailors rode the breeze clear of the rocks.", None, "1", 1)],
    ("cola", "test"): [
        ("test-0", "Bill whistled past the house.", None, None, 2),
        ("test-1", "Naïve Zoë wrote the résumé.", None, None, 3),
    ],
    ("sst-2", "train"): [
        ("train-0", "hide new secretions from the parental units ", None, "0", 2),
        ("train-1", "that loves its characters and communicates something rather beautiful ", None, "1", 3),
    ],
    ("sst-2", "dev"): [("dev-0", "it 's a charming and often affecting journey . ", None, "1", 2)],
    ("sst-2", "test"): [("test-0", '" uneasy mishmash of styles and genres .', None, None, 2)],
    ("mrpc", "train"): [
        ("train-0", 'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .',
         'Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .', "1", 2),
        ("train-1", "Yucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 billion .",
         "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 billion in 1998 .", "0", 3),
    ],
    ("mrpc", "dev"): [
        ("dev-0", "He said the foodservice pie business doesn 't fit .", "The foodservice pie business does not fit .", "1", 2),
    ],
    ("mrpc", "test"): [
        ("test-0", "PCCW 's chief operating officer quits .", "Mike Butcher quits PCCW .", None, 2),
        ("test-1", "The world 's two largest automakers said ...", "Both automakers reported ...", None, 3),
    ],
    ("sts-b", "train"): [
        ("train-0", "A plane is taking off.", "An air plane is taking off.", 5.0, 2),
        ("train-1", '"A man is playing a large flute."', "A man is playing a flute.", 3.8, 3),
    ],
    ("sts-b", "dev"): [("dev-0", "A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", 5.0, 2)],
    ("sts-b", "test"): [("test-0", "A girl is styling her hair.", "A girl is brushing her hair.", None, 2)],
    ("qqp", "train"): [
        ("train-133273", "How is the life of a math student?", 'What does "jlpt5" mean?', "0", 2),
        ("train-402555", "How do I control my emotions? 🙂", "How do you control your emotions?", "1", 3),
    ],
    ("qqp", "dev"): [("dev-201359", "Why are African-Americans so beautiful?", "Why are hispanics so beautiful?", "0", 2)],
    ("qqp", "test"): [("test-0", "Why do rockets look white?", "Why are rockets and boosters painted white?", None, 2)],
    ("mnli", "train"): [
        ("train-0", "Conceptually cream skimming has two basic dimensions.", "Product and geography are what make cream skimming work. ", "neutral", 2),
        ("train-1", "you know during the season and i guess at at your level uh you lose them",
         'You lose the things to the following level if the people recall "them".', "entailment", 3),
    ],
    ("mnli", "dev_matched"): [
        ("dev_matched-9815", "The new rights are nice enough", "Everyone really likes the newest benefits ", "neutral", 2),
        ("dev_matched-9816", "This site includes a list of all award winners.",
         "The Government Executive articles housed on the website are not able to be searched.", "contradiction", 3),
    ],
    ("mnli", "dev_mismatched"): [
        ("dev_mismatched-0", "Your contribution helped make it possible — café included.", "Your contributions were of no help.", "contradiction", 2),
    ],
    ("mnli", "test_matched"): [
        ("test_matched-0", "Hierbas, ans seco, ans dulce, and frigola are just a few names.", "Hierbas is a name worth looking out for.", None, 2),
    ],
    ("mnli", "test_mismatched"): [
        ("test_mismatched-0", "What we have done is to provide the foundation.", "We provided the foundation.", None, 2),
        ("test_mismatched-1", "Dear Friend,", "This letter is for a friend.", None, 3),
    ],
    ("qnli", "train"): [
        ("train-0", "When did the third Digimon series begin?", "Unlike the two seasons before it, Digimon Tamers takes a darker approach.", "not_entailment", 2),
        ("train-1", "Which missile batteries often have individual launchers?", "When MANPADS is operated by specialists, batteries may have several dozen teams.", "entailment", 3),
    ],
    ("qnli", "dev"): [
        ("dev-0", "What came into force after the new constitution was herald?", "As of that day, the new constitution heralding the Second Republic came into force.", "entailment", 2),
    ],
    ("qnli", "test"): [("test-0", "What organization is devoted to Jihad?", "For some decades prior to the First Palestine Intifada ...", None, 2)],
    ("rte", "train"): [
        ("train-0", "No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found in Iraq.", "not_entailment", 2),
        ("train-1", "A place of sorrow, after Pope John Paul II died, became a place of celebration.", "Pope Benedict XVI is the new leader of the Roman Catholic Church.", "entailment", 3),
    ],
    ("rte", "dev"): [("dev-0", "Dana Reeve, the widow of the actor Christopher Reeve, has died.", "Christopher Reeve had an accident.", "not_entailment", 2)],
    ("rte", "test"): [("test-0", "Mangla was summoned after Madhumita's sister Nidhi Shukla complained.", "Shukla is related to Mangla.", None, 2)],
    ("wnli", "train"): [
        ("train-0", "I stuck a pin through a carrot. When I pulled the pin out, it had a hole.", "The carrot had a hole.", "1", 2),
        ("train-1", "John couldn't see the stage with Billy in front of him because he is so short.", "John is so short.", "1", 3),
    ],
    ("wnli", "dev"): [("dev-0", "The drain is clogged with hair. It has to be cleaned.", "The hair has to be cleaned.", "0", 2)],
    ("wnli", "test"): [("test-0", "Maude and Dora had seen the trains rushing across the prairie.", "Horses ran away when Maude and Dora came into sight.", None, 2)],
    ("ax", "test"): [
        ("test-0", "The cat sat on the mat.", "The cat did not sit on the mat.", None, 2),
        ("test-1", '"Brexit" is a portmanteau.', "Brexit is a word.", None, 3),
    ],
    ("xnli", "train"): [
        ("train-0", "从 概念 上 看 , 奶油 收入 有 两 个 基本 方面 产品 和 地理 .", "产品 和 地理 是 什么 使 奶油 抹 霜 工作 .", "neutral", 2),
        ("train-1", "你 知道 在 这个 季节 , 我 猜 在 你 的 水平 你 把 他们 丢到 下 一个 水平", "如果 人们 记得 的 话 , 你 就 会 把 事情 弄 丢 了 .", "contradiction", 3),
    ],
    ("xnli", "dev"): [
        ("dev-1", "他说，妈妈，我回来了。", "校车把他放下后，他立即给他妈妈打了电话。", "contradiction", 3),
        ("dev-3", "他说，妈妈，我回来了。", "他告诉他的妈妈他已经回到家了。", "entailment", 5),
    ],
}  # fmt: skip
