#!/usr/bin/python3
"""Checks the output directory of examples/text_classifier/prepare_data.py
against its meta.json and its documented format; prints one summary line
ending in OK, or fails with the first problem.

Usage: check_text_data.py DIR
"""
import json
import os
import sys

import numpy as np


def main():
    out = sys.argv[1]
    meta = json.load(open(os.path.join(out, "meta.json")))
    vocab = open(os.path.join(out, "vocab.txt")).read().split("\n")
    assert vocab[-1] == "", "vocab.txt must end with a newline"
    vocab = vocab[:-1]
    v, length = meta["vocab_size"], meta["sequence_length"]
    assert len(vocab) == v, (len(vocab), v)
    assert vocab[:2] == ["<pad>", "<oov>"], vocab[:2]
    assert len(set(vocab)) == v, "vocab.txt has repeated tokens"
    kept = 0
    for split in ("train", "test"):
        x = np.load(os.path.join(out, f"x_{split}.npy"))
        y = np.load(os.path.join(out, f"y_{split}.npy"))
        info = meta[split]
        n = info["mails"]
        assert x.dtype == np.int32 and x.shape == (n, length), (x.dtype,
                                                                x.shape)
        assert y.dtype == np.float32 and y.shape == (n, 1), (y.dtype, y.shape)
        assert x.min() >= 0 and x.max() < v, (x.min(), x.max())
        assert set(np.unique(y)) == {0.0, 1.0}, np.unique(y)
        assert int(y.sum()) == info["spam"], (int(y.sum()), info["spam"])
        # Padding only at the end of a row: once 0, the rest is 0.
        pad = x == 0
        assert not np.any(pad[:, :-1] & ~pad[:, 1:]), "id 0 inside a mail"
        # The data is shuffled: the spam mails are not all at one end.
        half = n // 2
        assert 0 < y[:half].sum() < half and 0 < y[half:].sum() < n - half
        kept += n
    # Ids are ranked by training frequency: the most frequent word (id 2)
    # occurs in most training mails.
    x_train = np.load(os.path.join(out, "x_train.npy"))
    assert np.mean((x_train == 2).any(axis=1)) > 0.5
    spam = {s: meta[s]["spam_fraction"] for s in ("train", "test")}
    # Stratified: the class balance of the two splits agrees.
    assert abs(spam["train"] - spam["test"]) < 0.01, spam
    assert kept == meta["mails"] - meta["duplicates_dropped"]
    print(f"{meta['mails']} mails, {kept} kept: {meta['train']['mails']} "
          f"train (spam {spam['train']:.3f}), {meta['test']['mails']} test "
          f"(spam {spam['test']:.3f}); ids in [0, {v}); OK")


if __name__ == "__main__":
    main()
