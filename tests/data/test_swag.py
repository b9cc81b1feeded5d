"""SWAG's CSV files: examples, their choices, and the rows refused by name."""

import pytest

from bert_keras.data.swag import accuracy, read_swag
from bert_keras.errors import DataError

HEADER = ",video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label"


def write(path, *rows, header=HEADER):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reads_the_official_layout_with_quoted_fields(tmp_path):
    path = write(
        tmp_path / "val.csv",
        '0,lsmdc1,7,"She smiles, then","She smiles, then",she,gold,"nods.","runs, fast.",'
        '"says ""hi"".",sleeps.,2',
        '1,anetv_x,3,A man.,A man sits.,,gen,"waves\nhello.",b.,c.,d.,0',
    )
    first, second = read_swag(path)
    assert (first.example_id, first.context, first.label) == ("lsmdc1-7", "She smiles, then", 2)
    assert first.choices() == ["she nods.", "she runs, fast.", 'she says "hi".', "she sleeps."]
    # An empty sent2 leaves each choice its ending alone.
    assert second.choices()[0] == "waves\nhello." and second.label == 0
    assert accuracy([2, 0], [2, 1]) == 0.5


def test_the_test_file_has_no_labels(tmp_path):
    path = write(tmp_path / "test.csv", "0,v,1,s,Ctx.,He,gen,a,b,c,d", header=HEADER[:-6])
    [example] = read_swag(path)
    assert example.label is None


@pytest.mark.parametrize("row, message", [
    ("0,v,1,s,Ctx.,He,gold,a,b,,d,1", r"line 2: ending2 is empty"),
    ("0,v,1,s,Ctx.,He,gold,a,b,c", r"line 2: the row has 10 fields where the header names 12"),
    ("0,v,1,s,Ctx.,He,gold,a,b,c,d,4", r"line 2: the label '4' is not 0, 1, 2 or 3"),
    ("0,v,1,s,,He,gold,a,b,c,d,1", r"line 2: sent1 is empty"),
])
def test_bad_rows_name_the_file_and_line(tmp_path, row, message):
    path = write(tmp_path / "train.csv", row)
    with pytest.raises(DataError, match=message) as error:
        read_swag(path)
    assert "train.csv" in str(error.value)


def test_missing_columns_are_named(tmp_path):
    path = write(tmp_path / "train.csv", "a,b", header="sent1,ending0")
    with pytest.raises(DataError, match="lacks the SWAG column.s. sent2, ending1, ending2, ending3"):
        read_swag(path)
    with pytest.raises(DataError, match="Cannot read"):
        read_swag(tmp_path / "absent.csv")
