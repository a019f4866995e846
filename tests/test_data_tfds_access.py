"""What the TFDS sources share (keras_has.data.tfds_access): nothing prepared is a clear
error, and nothing is downloaded."""

import pytest

from keras_has.data.cub200 import cub
from keras_has.data.imagenet2012 import imagenet
from keras_has.data.tfds_access import DataNotPreparedError


def test_unprepared_data_is_a_clear_error_and_nothing_is_downloaded(tmp_path):
    with pytest.raises(DataNotPreparedError, match="download_and_prepare") as err:
        cub("train", data_dir=str(tmp_path))
    assert str(tmp_path) in str(err.value) and "never downloads" in str(err.value)
    # What a caller needs to word its own message (the recipes name their --data-dir).
    assert (err.value.name, err.value.data_dir) == ("caltech_birds2011", str(tmp_path))
    assert "tfds build caltech_birds2011 --data_dir DIR" in err.value.how
    with pytest.raises(DataNotPreparedError, match="ILSVRC2012_img_val.tar"):
        imagenet("train", data_dir=str(tmp_path))
    assert isinstance(err.value, FileNotFoundError)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
